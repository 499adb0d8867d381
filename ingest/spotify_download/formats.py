"""Spotify's data download: which files are streaming history (by name), and the record checks
of its two formats (see `ingest/record_checks.py` for what a format is)."""

from __future__ import annotations

import re

from ingest.record_checks import name_track_id, names_missing, quoted, type_checks
from warehouse.schema import platform_kind_sql

EXTENDED_FILE = re.compile(r"^(Streaming_History_Audio_.*|endsong_.*)\.json$")


VIDEO_FILE = re.compile(r"^(Streaming_History_Video_.*|endvideo.*)\.json$")


# account data's podcast and audiobook files: streaming history too, set aside and counted
ACCOUNT_NOT_MUSIC_FILE = re.compile(r"^StreamingHistory_(podcast|audiobook)_.*\.json$")


ACCOUNT_FILE = re.compile(r"^StreamingHistory(_music)?_?\d*\.json$")


def classify(base: str) -> str | None:
    """The kind of a file of Spotify's download, by its name alone; None if it is none of them."""
    for kind, pattern in (("extended", EXTENDED_FILE), ("video", VIDEO_FILE),
                          ("account_not_music", ACCOUNT_NOT_MUSIC_FILE), ("account", ACCOUNT_FILE)):
        if pattern.match(base):
            return kind
    return None


TRACK_URI = "^spotify:track:([0-9A-Za-z]{22})$"


EXTENDED_FIELDS = {  # field -> expected JSON type
    "ts": "string", "ms_played": "count", "spotify_track_uri": "string",
    "master_metadata_track_name": "string", "master_metadata_album_artist_name": "string",
    "master_metadata_album_album_name": "string", "reason_start": "string", "reason_end": "string",
    "shuffle": "boolean", "skipped": "boolean", "platform": "string",
    "spotify_episode_uri": "string", "episode_name": "string", "audiobook_uri": "string", "audiobook_title": "string",
}


ACCOUNT_FIELDS = {"endTime": "string", "artistName": "string", "trackName": "string", "msPlayed": "count"}


EXTENDED = {
    "source": "extended_history",
    "fields": EXTENDED_FIELDS,
    "checks": [
        *type_checks(EXTENDED_FIELDS),
        (f"spotify_track_uri is not null and not regexp_matches(spotify_track_uri, '{TRACK_URI}')",
         "'spotify_track_uri is not a track URI: ' || " + quoted("spotify_track_uri_json::varchar")),
        ("spotify_track_uri is not null and ts is null", "'ts is missing'"),
        ("spotify_track_uri is not null and try_strptime(ts, '%Y-%m-%dT%H:%M:%SZ') is null",
         "'ts is not an ISO 8601 UTC time: ' || " + quoted("ts_json::varchar")),
    ],
    # podcast episodes, audiobook chapters, and records naming nothing played (no track, episode or
    # audiobook: real exports hold a few, with a time and a duration only): not music plays
    "set_aside": "spotify_track_uri is null",
    "columns": f"""regexp_extract(spotify_track_uri, '{TRACK_URI}', 1) as track_id,
        try_strptime(ts, '%Y-%m-%dT%H:%M:%SZ') as played_at, null::timestamp as started_at, ms_played, skipped,
        reason_start, reason_end, shuffle, {platform_kind_sql("platform")} as platform,
        master_metadata_track_name as track_name, master_metadata_album_album_name as album_name,
        master_metadata_album_artist_name as artist_name""",
}


# Account data has names but no track id: the id is a hash of artist and track name
# (`name:<hash>`), resolved to a real track in dbt (int_plays__track_resolved).
ACCOUNT = {
    "source": "account_data",
    "fields": ACCOUNT_FIELDS,
    "checks": [
        *type_checks(ACCOUNT_FIELDS),
        names_missing("artistName", "trackName"),
        ("try_strptime(endTime, '%Y-%m-%d %H:%M') is null",
         "'endTime is not a YYYY-MM-DD HH.MM time: ' || " + quoted("coalesce(endTime_json::varchar, 'missing')")),
    ],
    "set_aside": "false",
    "columns": f"""{name_track_id("artistName", "trackName")} as track_id,
        try_strptime(endTime, '%Y-%m-%d %H:%M') as played_at, null::timestamp as started_at,
        msPlayed as ms_played, null::boolean as skipped,
        null::varchar as reason_start, null::varchar as reason_end, null::boolean as shuffle,
        null::varchar as platform, trackName as track_name, null::varchar as album_name,
        artistName as artist_name""",
}
