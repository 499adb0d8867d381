"""What a data download (Spotify's, and Last.fm's or ListenBrainz's beside it) holds, counted in
plain Python straight from its files, apart from the importer and dbt: the figures
`spotify-brain check-real` holds the warehouse to.

The rules are the ones the README states, written again here on purpose (a second, simple
reading of the same files): music plays are extended-history records with a track URI and
account-data records with an artist and a track name; records that are identical are one; records
of one track with the same end time are one play (extended history: the longest; account data,
whose end time is cut to the minute: the minutes of its different records added up); then plays
of one track ending within 5 s of each other (60 s between account data and another source; two
account-data minutes are two plays) are one, the extended history's kept, and of it the longest. A
play's artist is its track's: the names of the track's first record. Years are local years of when
a play started.
Scrobbles (scrobbles.py) count their track's length, and one starting within 90 s (and half a play)
of another source's play of the track is that play.
"""

from __future__ import annotations

import json
import re
import statistics
import zipfile
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from orchestration.real_check.plays import Play, norm
from orchestration.real_check.scrobbles import as_listen, read_scrobbles, with_scrobbles

MUSIC_EXTENDED = re.compile(r"^(Streaming_History_Audio_.*|endsong_.*)\.json$")
MUSIC_ACCOUNT = re.compile(r"^StreamingHistory(_music)?_?\d*\.json$")
NOT_MUSIC = re.compile(r"^(Streaming_History_Video_.*|endvideo.*|StreamingHistory_(podcast|audiobook)_.*)\.json$")
TRACK_URI = re.compile(r"^spotify:track:([0-9A-Za-z]{22})$")
EARLIEST = datetime(2006, 1, 1)
EARLIEST_SCROBBLE = datetime(2002, 1, 1)
TOLERANCE_S = 5
ACCOUNT_TOLERANCE_S = 60


@dataclass
class DownloadCount:
    records: int = 0                 # every record of every streaming-history file
    music_records: int = 0
    files: int = 0
    kinds: Counter = field(default_factory=Counter)
    minutes_by_year: dict[str, float] = field(default_factory=dict)
    top_artists_by_year: dict[str, list[tuple[str, float]]] = field(default_factory=dict)
    first_year: str | None = None
    last_year: str | None = None


SUFFIXES = (".json", ".csv", ".jsonl")


def _members(path: Path):
    """(name, bytes) of every JSON, CSV or JSON-lines file of an export: a zip, a folder (zips in it
    too) or one file."""
    if path.is_dir():
        for file in sorted(p for p in path.rglob("*") if p.is_file()):
            if file.suffix.lower() == ".zip" or file.name.lower().endswith(SUFFIXES):
                yield from _members(file)
    elif zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            for info in sorted(archive.infolist(), key=lambda i: i.filename):
                if info.filename.lower().endswith(SUFFIXES):
                    yield info.filename.rsplit("/", 1)[-1], archive.read(info)
    else:
        yield path.name, path.read_bytes()


def _ts(text: str | None, pattern: str) -> datetime | None:
    try:
        return datetime.strptime(text, pattern) if isinstance(text, str) else None
    except ValueError:
        return None


def read_plays(path: Path) -> tuple[DownloadCount, list[Play]]:
    count, seen, extended, account, scrobbled = DownloadCount(), set(), [], [], []
    names: dict = {}  # a track's names are its first record's, in reading order (as raw.tracks keeps them)
    contents_seen = set()
    for name, data in _members(path):
        kind = ("extended" if MUSIC_EXTENDED.match(name) else "account" if MUSIC_ACCOUNT.match(name)
                else "other" if NOT_MUSIC.match(name) else None)
        if data in contents_seen:  # the importer skips a file it already read
            continue
        if kind is None:
            found = read_scrobbles(name, data)
            if found is not None:
                contents_seen.add(data)
                source, records, listens = found
                count.files += 1
                count.records += records
                count.kinds[source] += records
                scrobbled += listens
                for _, artist, track, at, _, _, spotify_id in map(as_listen, listens):
                    if spotify_id and at is not None and norm(artist) and norm(track):
                        names.setdefault(spotify_id, (norm(track), norm(artist)))
            continue
        contents_seen.add(data)
        try:
            records = json.loads(data.decode("utf-8-sig"))
        except (ValueError, UnicodeDecodeError):
            continue
        if not isinstance(records, list):
            continue
        count.files += 1
        count.records += len(records)
        count.kinds[kind] += len(records)
        for record in records:
            if kind == "other" or not isinstance(record, dict):
                continue
            identity = json.dumps(record, sort_keys=True)
            if identity in seen:
                continue
            seen.add(identity)
            if kind == "extended":
                uri = record.get("spotify_track_uri")
                found = TRACK_URI.match(uri) if isinstance(uri, str) else None
                ended = _ts(record.get("ts"), "%Y-%m-%dT%H:%M:%SZ")
                ms = record.get("ms_played")
                if found and ended and isinstance(ms, int) and ms >= 0:
                    names.setdefault(found.group(1), (norm(record.get("master_metadata_track_name")),
                                                      norm(record.get("master_metadata_album_artist_name"))))
                    extended.append((found.group(1), ended, ms, record.get("reason_end") == "trackdone"))
            else:
                ended = _ts(record.get("endTime"), "%Y-%m-%d %H:%M")
                ms, artist, track = record.get("msPlayed"), record.get("artistName"), record.get("trackName")
                if ended and isinstance(ms, int) and ms >= 0 and norm(artist) and norm(track):
                    account.append((artist, track, ended, ms))
    count.music_records = len(extended) + len(account) + len(scrobbled)
    return count, _fold(extended, account, scrobbled, names)


def _fold(extended: list, account: list, scrobbled: list, names: dict) -> list[Play]:
    """One play per track and end time, names resolved to known tracks, then near plays of a song
    folded; then the scrobbles, those of a play already counted left out."""
    longest: dict = {}
    for track, ended, ms, _ in extended:
        key = (track, ended)
        longest[key] = max(longest.get(key, 0), ms)
    by_name: dict = {}  # a name-only track is the known track of that name and artist (the smallest id)
    for track, key in names.items():
        by_name[key] = min(by_name.get(key, track), track)
    song = {track: by_name[key] for track, key in names.items()}  # plays are compared per song
    summed: dict = defaultdict(int)
    for artist, name, ended, ms in account:
        summed[(norm(artist), norm(name), ended)] += ms
    plays = [Play(song[track], ended, ms, names[track][1], False) for (track, ended), ms in longest.items()]
    plays += [Play(by_name.get((name, artist), f"name:{artist}\x1f{name}"), ended, ms, artist, True)
              for (artist, name, ended), ms in summed.items()]
    artists = {track: artist for track, (_, artist) in names.items()}
    return with_scrobbles(_near_folded(plays), scrobbled, by_name, song, artists, extended_finished(extended))


def _near_folded(plays: list[Play]) -> list[Play]:
    kept, by_track = [], defaultdict(list)
    for play in plays:
        by_track[play.track].append(play)
    for same_track in by_track.values():
        same_track.sort(key=lambda p: (p.ended, p.account, -p.ms))
        group = [same_track[0]]
        for before, play in zip(same_track, same_track[1:]):
            tolerance = (-1 if before.account and play.account  # two minutes of account data: two plays
                         else ACCOUNT_TOLERANCE_S if before.account or play.account else TOLERANCE_S)
            if (play.ended - before.ended).total_seconds() > tolerance:
                kept.append(min(group, key=lambda p: (p.account, -p.ms, p.ended)))
                group = []
            group.append(play)
        kept.append(min(group, key=lambda p: (p.account, -p.ms, p.ended)))
    return kept


def extended_finished(extended: list) -> dict[str, float]:
    """Each track's median time played over its extended-history plays that ran to the end."""
    lengths = defaultdict(list)
    for track, _, ms, done in extended:
        if done and ms > 0:
            lengths[track].append(ms)
    return {track: statistics.median(ms) for track, ms in lengths.items()}


def count_download(path: Path, timezone: str, now: datetime | None = None) -> DownloadCount:
    """Minutes and the top five artists of each local year (of a play's start), from the files."""
    count, plays = read_plays(path)
    latest = (now or datetime.now(UTC).replace(tzinfo=None)) + timedelta(days=1)
    zone = ZoneInfo(timezone)
    minutes: dict[str, float] = defaultdict(float)
    artist_ms: dict[str, Counter] = defaultdict(Counter)
    artist_plays: dict[str, Counter] = defaultdict(Counter)
    for play in plays:
        if not (EARLIEST_SCROBBLE if play.source != "spotify" else EARLIEST) <= play.ended <= latest:
            continue
        started = play.started.replace(tzinfo=UTC).astimezone(zone)
        year = str(started.year)
        minutes[year] += play.ms / 60000
        artist_ms[year][play.artist] += play.ms
        artist_plays[year][play.artist] += 1
    count.minutes_by_year = {year: round(m, 2) for year, m in sorted(minutes.items())}
    for year, by_artist in artist_ms.items():
        ranked = sorted(by_artist, key=lambda a: (-by_artist[a], -artist_plays[year][a], a))
        count.top_artists_by_year[year] = [(a, round(by_artist[a] / 60000, 2)) for a in ranked[:6]]
    if minutes:
        count.first_year, count.last_year = min(minutes), max(minutes)
    return count
