"""Last.fm's and ListenBrainz's exports counted in plain Python for check-real, apart from the
importer's SQL (a second, simple reading of the formats the README lists), and the rule that a
scrobble of a play Spotify's files hold is that play.

A scrobble is timed by its start; its minutes are its track's length: as ListenBrainz gave it,
else the median of the track's extended-history plays that ran to the end, else 3.5 minutes
(dbt's var('scrobble_default_ms')). It is the same play as another source's play of the track
starting at most 90 s and half the shorter play apart; two scrobbles of one service never are.
"""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, datetime, timedelta

from orchestration.real_check.plays import Play, norm

DEFAULT_MS = 210_000
TOLERANCE_S = 90
PRIORITY = {"spotify": 0, "listenbrainz": 1, "lastfm": 2}
SPOTIFY_URL = re.compile(r"(?:open\.spotify\.com/track/|spotify:track:)([0-9A-Za-z]{22})")


def _unix(value, per_second: int = 1) -> datetime | None:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    if not 0 <= number <= 32_503_680_000 * per_second:
        return None
    return datetime.fromtimestamp(number / per_second, UTC).replace(tzinfo=None)


def read_scrobbles(name: str, data: bytes) -> tuple[str, int, list[tuple]] | None:
    """(source, records in the file, listens) of a Last.fm or ListenBrainz export file, or None if
    it is neither. A listen: (artist, track, time, is_end, length_ms or None, spotify_id or None, source)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None
    first = text.split("\n", 1)[0]
    lower = name.lower()
    if lower.endswith(".csv"):
        return _lastfm_csv(text, first)
    if lower.endswith(".jsonl") and '"listened_at"' in first:
        lines = [line for line in text.splitlines() if line.strip()]
        return "listenbrainz", len(lines), [l for l in map(_listen, lines) if l]
    if re.match(r"^.+_lb-\d{4}-\d{2}-\d{2}\.json$", name):
        listens = json.loads(text)
        return "listenbrainz", len(listens), [l for l in map(_listen, listens) if l]
    if lower.endswith(".json") and re.match(r'^\s*\[\s*\{\s*"(track|recenttracks|@attr)"', text):
        return _lastfm_pages(json.loads(text))
    return None


def _lastfm_csv(text: str, first: str):
    rows = list(csv.reader(io.StringIO(text), delimiter=";" if first.startswith(("Artist;", '"Artist";')) else ","))
    if first.replace('"', "").startswith("uts,utc_time,artist"):
        body = rows[1:]
        return "lastfm", len(body), [("lastfm", r[2], r[6], _unix(r[0])) for r in body if len(r) >= 8]
    if first.replace('"', "").startswith("Artist;Album;"):
        body, album_id = rows[1:], "AlbumId" in first
        track, date = (3, 4) if album_id else (2, 3)
        return "lastfm", len(body), [("lastfm", r[0], r[track], _unix(r[date], 1000)) for r in body if len(r) > date]
    if re.search(r'\d{1,2} [A-Z][a-z]{2} \d{4},? \d{2}:\d{2}"?\r?$', first):
        def when(text):
            try:
                return datetime.strptime(text, "%d %b %Y %H:%M")
            except ValueError:
                return None
        return "lastfm", len(rows), [("lastfm", r[0], r[2], when(r[3])) for r in rows if len(r) >= 4]
    return None


def _lastfm_pages(pages: list):
    found, records = [], 0
    for page in pages:
        tracks = page.get("track") or (page.get("recenttracks") or {}).get("track") or []
        for track in tracks if isinstance(tracks, list) else [tracks]:
            records += 1
            if (track.get("@attr") or {}).get("nowplaying") == "true":
                continue
            found.append(("lastfm", (track.get("artist") or {}).get("#text"), track.get("name"),
                          _unix((track.get("date") or {}).get("uts"))))
    return "lastfm", records, found


def _listen(line) -> tuple | None:
    listen = json.loads(line) if isinstance(line, str) else line
    meta = listen.get("track_metadata") if isinstance(listen, dict) else None
    if not isinstance(meta, dict):
        return None
    info = meta.get("additional_info") or {}
    at = _unix(listen.get("listened_at")) if isinstance(listen.get("listened_at"), int) else None
    length = info.get("duration_ms") if isinstance(info.get("duration_ms"), int) else None
    if length is None and isinstance(info.get("duration"), int):
        length = info["duration"] * 1000
    match = SPOTIFY_URL.search(info.get("spotify_id") or "") if isinstance(info.get("spotify_id"), str) else None
    return ("listenbrainz", meta.get("artist_name"), meta.get("track_name"), at,
            info.get("listening_from") == "spotify", length if length and 0 < length <= 86_400_000 else None,
            match.group(1) if match else None)


def as_listen(entry: tuple) -> tuple:
    """A scrobble as (source, artist, track, time, is_end, length_ms, spotify_id); Last.fm's hold the
    first four only."""
    if entry[0] == "lastfm":  # (source, artist, track, start)
        return entry[0], entry[1], entry[2], entry[3], False, None, None
    return entry


def with_scrobbles(plays: list, scrobbled: list, by_name: dict, song: dict[str, str], artists: dict[str, str],
                   finished: dict[str, float]) -> list:
    """`plays` (Spotify's, one per play, `track` their song) and the scrobbles that are not one of them.
    `by_name`: (name, artist) -> the track they resolve to; `song`: a track's song; `artists`: a
    known track's artist (its first record's)."""
    seen, new = set(), []
    for source, artist, track, at, is_end, length, spotify_id in map(as_listen, scrobbled):
        if not (norm(artist) and norm(track)) or at is None:
            continue
        landed = spotify_id or f"name:{norm(artist)}\x1f{norm(track)}"  # the id it lands with
        track_id = spotify_id or by_name.get((norm(track), norm(artist)), landed)
        ms = int(length or finished.get(track_id) or DEFAULT_MS)
        start = at - timedelta(milliseconds=ms) if is_end else at
        key = (source, landed, start + timedelta(milliseconds=length or 0) if not is_end else at)
        if key in seen:  # the loader's key (its track as landed, before names resolve): a repeat is one record
            continue
        seen.add(key)
        new.append(Play(song.get(track_id, track_id), start + timedelta(milliseconds=ms), ms,
                        artists.get(track_id, norm(artist)), False, source))
    kept = list(plays)
    by_track: dict = {}
    for play in kept:
        by_track.setdefault(play.track, []).append(play)
    for play in sorted(new, key=lambda p: (PRIORITY[p.source], p.started)):
        same = [other for other in by_track.get(play.track, []) if other.source != play.source
                and abs((other.started - play.started).total_seconds())
                <= min(TOLERANCE_S, min(other.ms, play.ms) / 2000)]
        if not same:
            kept.append(play)
            by_track.setdefault(play.track, []).append(play)
    return kept
