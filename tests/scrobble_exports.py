"""Hand-written Last.fm and ListenBrainz exports in the shapes the README lists (from the services'
and the export tools' documented formats; no real person's rows), and a Spotify extended history
whose plays they scrobbled, as Spotify's Last.fm and ListenBrainz links do: a play of 30 s or more
that ran half its track or four minutes, timed by its start."""

from __future__ import annotations

import csv
import json
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

TRACKS = [  # (Spotify id, artist, track, album, length in ms)
    ("4iV5W9uYEdYUVa79Axb7Rh", "Ada Lovelace Band", "Engine", "Notes", 200_000),
    ("1301WleyT98MSxVHPZCA6M", "The Babbages", "Difference", "Analytical", 245_000),
    ("3n3Ppam7vgaVa1iaRUc9Lp", "Café Tacvba", "Ojalá Que Llueva Café", "Re", 181_000),
    ("7ouMYWpwJ422jRcDASZB7P", "Grace Hopper", "Bug, the First", "COBOL, Live", 59_000),
]
START = datetime(2023, 12, 30, 20, 0, 0)


def spotify_plays() -> list[dict]:
    """Three weeks of evenings: each track played to the end, one skipped early and a short one
    replayed straight away (two plays 59 s apart, which no rule may fold)."""
    records, at = [], START
    for day in range(21):
        at = START + timedelta(days=day)
        for number, (track_id, artist, name, album, length) in enumerate(TRACKS):
            played = 20_000 if (day + number) % 5 == 0 else length  # a skip after 20 s, now and then
            at += timedelta(milliseconds=played)
            records.append(_record(at, track_id, artist, name, album, played, "trackdone" if played == length
                                   else "fwdbtn"))
        short = TRACKS[3]
        at += timedelta(milliseconds=short[4])
        records.append(_record(at, short[0], short[1], short[2], short[3], short[4], "trackdone"))
    return records


def _record(ended: datetime, track_id, artist, name, album, ms, reason_end) -> dict:
    return {"ts": ended.strftime("%Y-%m-%dT%H:%M:%SZ"), "ms_played": ms, "spotify_track_uri": f"spotify:track:{track_id}",
            "master_metadata_track_name": name, "master_metadata_album_artist_name": artist,
            "master_metadata_album_album_name": album, "reason_start": "trackdone", "reason_end": reason_end,
            "shuffle": False, "skipped": reason_end != "trackdone", "platform": "android", "ip_addr": "203.0.113.9"}


def scrobbled(records: list[dict]) -> list[tuple[int, dict]]:
    """(Unix start, record) of each play a scrobbler logged: 30 s played and half the track (or 4 min);
    the start a second after Spotify's (the scrobbler's clock)."""
    lengths = {t[0]: t[4] for t in TRACKS}
    out = []
    for record in records:
        track_id = record["spotify_track_uri"].split(":")[-1]
        ms = record["ms_played"]
        if ms >= 30_000 and (ms >= lengths[track_id] / 2 or ms >= 240_000):
            ended = datetime.strptime(record["ts"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
            out.append((int(ended.timestamp() - ms / 1000) + 1, record))
    return out


def write_spotify(folder: Path, records: list[dict]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "Streaming_History_Audio_2023-2024_0.json").write_text(json.dumps(records))
    return folder


def write_ghan_csv(path: Path, scrobbles: list[tuple[int, dict]], extra_rows: list[list[str]] = ()) -> Path:
    """lastfm.ghan.nl's CSV: a header, every field quoted, newest first."""
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle, quoting=csv.QUOTE_ALL)
        writer.writerow(["uts", "utc_time", "artist", "artist_mbid", "album", "album_mbid", "track", "track_mbid"])
        for start, r in sorted(scrobbles, key=lambda s: -s[0]):
            when = datetime.fromtimestamp(start, UTC).strftime("%d %b %Y, %H:%M")
            writer.writerow([start, when, r["master_metadata_album_artist_name"], "",
                             r["master_metadata_album_album_name"], "", r["master_metadata_track_name"], ""])
        writer.writerows(extra_rows)
    return path


def write_ghan_json(path: Path, scrobbles: list[tuple[int, dict]], per_page: int = 3) -> Path:
    """lastfm.ghan.nl's JSON: pages of user.getRecentTracks, the first with the track playing while
    it exported (no date); a page of one track holds the object itself, as Last.fm's API does."""
    tracks = [{"artist": {"mbid": "", "#text": r["master_metadata_album_artist_name"]}, "streamable": "0",
               "album": {"mbid": "", "#text": r["master_metadata_album_album_name"]},
               "name": r["master_metadata_track_name"], "mbid": "", "url": "https://www.last.fm/music/x",
               "date": {"uts": str(start), "#text": datetime.fromtimestamp(start, UTC).strftime("%d %b %Y, %H:%M")}}
              for start, r in sorted(scrobbles, key=lambda s: -s[0])]
    playing = {**tracks[0], "@attr": {"nowplaying": "true"}}
    del playing["date"]
    pages = [[playing] + tracks[:per_page]] + [tracks[i:i + per_page] for i in range(per_page, len(tracks), per_page)]
    body = [{"track": page if len(page) > 1 else page[0], "@attr": {"user": "someone", "page": str(n + 1)}}
            for n, page in enumerate(pages)]
    path.write_text(json.dumps(body))
    return path


def write_listenbrainz_zip(path: Path, scrobbles: list[tuple[int, dict]], username: str = "someone") -> Path:
    """ListenBrainz's export: user.json and listens/<year>/<month>.jsonl; every other listen says
    its Spotify id and the track's length, as Spotify-fed clients do."""
    months: dict[tuple[int, int], list[str]] = {}
    for number, (start, r) in enumerate(sorted(scrobbles, key=lambda s: s[0])):
        info = {"submission_client": "a scrobbler", "recording_msid": "00000000-0000-0000-0000-00000000000"}
        if number % 2:
            info |= {"spotify_id": "https://open.spotify.com/track/" + r["spotify_track_uri"].split(":")[-1],
                     "duration_ms": {t[0]: t[4] for t in TRACKS}[r["spotify_track_uri"].split(":")[-1]]}
        listen = {"inserted_at": start + 5, "listened_at": start, "track_metadata": {
            "artist_name": r["master_metadata_album_artist_name"], "track_name": r["master_metadata_track_name"],
            "release_name": r["master_metadata_album_album_name"], "additional_info": info, "mbid_mapping": None}}
        when = datetime.fromtimestamp(start, UTC)
        months.setdefault((when.year, when.month), []).append(json.dumps(listen))
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("user.json", json.dumps({"user_id": 1, "username": username}))
        for (year, month), lines in sorted(months.items()):
            archive.writestr(f"listens/{year}/{month}.jsonl", "\n".join(lines) + "\n")
    return path
