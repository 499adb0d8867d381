"""Hand-written privacy exports that hold, one by one, what real people's published exports hold.

Each quirk below was seen on the development panel of real exports (kept outside the repository,
never copied): the records here are made up, names, times and ids alike, written to show the
quirk and nothing else. `write_listener(folder, name)` writes one listener's export as Spotify's
zip would unpack it; LISTENERS names them.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

ARTISTS = ["Amber Fields", "Northern Tram", "Los Ríos", "Kaito", "Ólöf Arna"]


def track_id(number: int) -> str:
    """A made-up 22-character Spotify id (base 62 allows digits)."""
    return f"{number:022d}"


def _iso(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def extended(at: datetime, ms: int, number: int | None, *, artist: str | None = None, old_fields: bool = False,
             **fields) -> dict:
    """One extended-history record: `number` picks the track (None: no track at all)."""
    record = {
        "ts": _iso(at), "platform": "android", "ms_played": ms, "conn_country": "ZZ",
        "ip_addr": "192.0.2.1",
        "master_metadata_track_name": None if number is None else f"Song {number}",
        "master_metadata_album_artist_name": None if number is None else artist or ARTISTS[number % len(ARTISTS)],
        "master_metadata_album_album_name": None if number is None else f"Album {number % 7}",
        "spotify_track_uri": None if number is None else f"spotify:track:{track_id(number)}",
        "episode_name": None, "episode_show_name": None, "spotify_episode_uri": None,
        "audiobook_title": None, "audiobook_uri": None, "audiobook_chapter_uri": None, "audiobook_chapter_title": None,
        "reason_start": "trackdone", "reason_end": "trackdone", "shuffle": False, "skipped": False,
        "offline": False, "offline_timestamp": None, "incognito_mode": False,
    }
    if old_fields:  # the field set of the older endsong files, which some new-named files still carry
        for name in ("ip_addr", "audiobook_title", "audiobook_uri", "audiobook_chapter_uri", "audiobook_chapter_title"):
            del record[name]
        record |= {"username": "made-up-user", "ip_addr_decrypted": "198.51.100.2",
                   "user_agent_decrypted": "unknown"}
    return record | fields


def account(at: datetime, ms: int, number: int, *, artist: str | None = None, track: str | None = None) -> dict:
    """One account-data record: endTime to the minute, names only."""
    return {"endTime": at.strftime("%Y-%m-%d %H:%M"), "artistName": artist or ARTISTS[number % len(ARTISTS)],
            "trackName": track or f"Song {number}", "msPlayed": ms}


def _evenings(start: datetime, days: int, per_day: int, first_track: int = 0, ms: int = 200_000):
    """A plain history: `per_day` plays back to back every evening, cycling through 40 tracks."""
    for day in range(days):
        begin = start + timedelta(days=day, hours=19)
        for k in range(per_day):
            yield begin + timedelta(seconds=(k + 1) * (ms // 1000 + 5)), ms, first_track + (day * per_day + k) % 40


# --- the quirks, each a list of records ---------------------------------------------------------

def zero_length_month() -> list[dict]:
    """A whole month whose plays all lasted 0 ms (real exports hold such months), between two plain ones."""
    records = [extended(at, ms, n) for at, ms, n in _evenings(datetime(2024, 1, 1), 31, 6)]
    records += [extended(at, 0, n, reason_end="unknown") for at, _, n in _evenings(datetime(2024, 2, 1), 29, 6)]
    records += [extended(at, ms, n) for at, ms, n in _evenings(datetime(2024, 3, 1), 31, 6)]
    return records


def old_fields_and_offline_times() -> list[dict]:
    """Old field sets in a new file name; offline_timestamp as 0, seconds and milliseconds; incognito
    plays; skipped null."""
    records = []
    for i, (at, ms, n) in enumerate(_evenings(datetime(2023, 5, 1), 20, 5)):
        offline = [0, int(at.timestamp()) - 300, int(at.timestamp() * 1000) - 300_000, None][i % 4]
        records.append(extended(at, ms, n, old_fields=True, offline=offline not in (0, None),
                                offline_timestamp=offline, incognito_mode=i % 7 == 0, skipped=None))
    return records


def adjacent_exact_duplicates() -> list[dict]:
    """A tenth of a year in which every record comes twice in a row, identical."""
    records = []
    for at, ms, n in _evenings(datetime(2023, 8, 1), 36, 4):
        records += [extended(at, ms, n)] * 2
    return records


def not_music_in_music_files() -> list[dict]:
    """Records that name nothing played (no track, episode or audiobook), and audiobook chapters,
    inside a music file."""
    at = datetime(2023, 9, 20, 8)
    return [
        extended(at, 5_000, None),
        extended(at + timedelta(minutes=1), 16_000, None, skipped=True),
        extended(at + timedelta(minutes=40), 1_500_000, None, audiobook_title="A Made-up Book",
                 audiobook_uri="spotify:audiobook:" + "3" * 22, audiobook_chapter_title="Chapter 1",
                 audiobook_chapter_uri="spotify:episode:" + "4" * 22),
        extended(at + timedelta(hours=2), 190_000, 3),
    ]


def same_end_time_records() -> list[dict]:
    """One track ending twice at the same second with different lengths (one stream logged twice),
    and a restart a second after a play (two records within the 5 s tolerance)."""
    at = datetime(2023, 10, 5, 21)
    return [extended(at, 240_000, 11), extended(at, 1_000, 11, reason_end="unknown"),
            extended(at + timedelta(minutes=10), 200_000, 12), extended(at + timedelta(minutes=10, seconds=1), 0, 12)]


def device_handover() -> list[dict]:
    """A play moved to another device: its record (3 min 34 s) and, ending 3 s before it, a 2 s tail
    logged by the device it moved to (reason_start "remote"). One play, the longer record."""
    at = datetime(2023, 10, 6, 8, 30, 12)
    return [extended(at - timedelta(seconds=3), 1_800, 13, reason_start="remote"),
            extended(at, 214_000, 13, reason_end="remote")]


def renamed_artist_credit() -> list[dict]:
    """One track credited to another artist name in a later year's records (Spotify changed its
    credits between the files): every play counts under the track's first record's artist."""
    return [extended(datetime(2023, 4, 2, 20), 200_000, 14, artist="Kaito"),
            extended(datetime(2024, 5, 2, 20), 200_000, 14, artist="Kaito & Ólöf Arna"),
            extended(datetime(2024, 5, 3, 20), 200_000, 14, artist="Kaito & Ólöf Arna")]


def fifty_plays_in_one_minute() -> list[dict]:
    """Fifty tracks skipped through within one minute (real exports hold hundreds in a minute)."""
    at = datetime(2023, 11, 11, 12)
    return [extended(at + timedelta(seconds=k), 900, 100 + k, skipped=True, reason_end="fwdbtn") for k in range(50)]


def a_year_with_two_plays() -> list[dict]:
    """A year with two plays only, long before the rest."""
    return [extended(datetime(2019, 6, 1, 20), 210_000, 1), extended(datetime(2019, 12, 24, 20), 180_000, 2)]


def six_months_of_account_data() -> list[dict]:
    """Six months of account data (the year Spotify sends is often half empty)."""
    return [account(at, ms, n) for at, ms, n in _evenings(datetime(2024, 7, 1), 183, 3)]


def account_data_oddities() -> list[dict]:
    """"Unknown Artist"/"Unknown Track" (local files), the same track twice in one minute with
    different msPlayed (a restart, then the play), fifty plays in one minute, and a short track
    replayed in the next minute."""
    at = datetime(2024, 8, 15, 22)
    records = [account(at + timedelta(minutes=k), 150_000, 0, artist="Unknown Artist", track="Unknown Track")
               for k in range(0, 30, 3)]
    records += [account(at + timedelta(hours=1), 4_000, 5), account(at + timedelta(hours=1), 188_000, 5)]
    records += [account(at + timedelta(hours=2), 1_200, 200 + k) for k in range(50)]
    records += [account(at + timedelta(hours=3), 50_000, 7), account(at + timedelta(hours=3, minutes=1), 50_000, 7)]
    return records


def account_podcasts_and_audiobooks() -> dict[str, list[dict]]:
    at = "2024-07-03 07:30"
    return {
        "StreamingHistory_podcast_0.json": [{"endTime": at, "podcastName": "A Show", "episodeName": "One",
                                             "msPlayed": 1_200_000}],
        "StreamingHistory_audiobook_0.json": [{"endTime": at, "audiobookName": "A Book", "authorName": "Someone",
                                               "chapterName": "Chapter 2", "msPlayed": 900_000},
                                              {"endTime": "2024-07-04 07:30", "audiobookName": "A Book",
                                               "authorName": "Someone", "chapterName": "Chapter 3", "msPlayed": 0}],
    }


# --- listeners --------------------------------------------------------------------------------

def _all_quirks() -> dict[str, list[dict]]:
    """Everything above in one export, as Spotify splits it: extended history and account data."""
    extended_records = (a_year_with_two_plays() + old_fields_and_offline_times() + adjacent_exact_duplicates()
                        + not_music_in_music_files() + same_end_time_records() + device_handover()
                        + renamed_artist_credit() + fifty_plays_in_one_minute() + zero_length_month())
    return {"Spotify Extended Streaming History/Streaming_History_Audio_2019-2024_0.json": extended_records,
            "Spotify Account Data/StreamingHistory_music_0.json": six_months_of_account_data() + account_data_oddities(),
            **{f"Spotify Account Data/{name}": records for name, records in account_podcasts_and_audiobooks().items()}}


LISTENERS = {
    # every quirk at once
    "quirks": _all_quirks,
    # the three the daily job must carry through on their own
    "zero_month": lambda: {"Streaming_History_Audio_2024_0.json": zero_length_month()},
    "one_week": lambda: {"Streaming_History_Audio_2025_0.json": [
        extended(at, ms, n) for at, ms, n in _evenings(datetime(2025, 3, 3), 7, 8, 600)]},
    "one_artist": lambda: {"Streaming_History_Audio_2025_0.json": [
        extended(at, ms, n, artist="Amber Fields") for at, ms, n in _evenings(datetime(2025, 1, 1), 60, 6, 500)]},
}


def write_listener(folder: Path, name: str) -> Path:
    """Write one listener's export under `folder`; return the folder."""
    for relative, records in LISTENERS[name]().items():
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(records, ensure_ascii=False, indent=0))
    return folder
