"""Last.fm's histories as people export them: which file is which (by its first line), and the
record checks of each (see `ingest/record_checks.py` for what a format is).

- lastfm.ghan.nl CSV: header `uts,utc_time,artist,artist_mbid,album,album_mbid,track,track_mbid`,
  every field quoted, `uts` the Unix time the scrobble started;
- lastfm.ghan.nl JSON: a list of pages of Last.fm's `user.getRecentTracks` answer, each
  `{"track": [...], "@attr": {...}}` (a page of one track may hold the object itself), a track
  `{"artist": {"#text"}, "album": {"#text"}, "name", "date": {"uts"}}`; the track playing while the
  export ran has `"@attr": {"nowplaying": "true"}` and no date: set aside;
- benjaminbenben's lastfm-to-csv: no header, `artist,album,track,date` with dates like
  `01 Jan 2021 16:16` (UTC, to the minute);
- lastfmstats.com CSV: `;`-separated, a byte-order mark, header `Artist;Album;AlbumId;Track;Date#<user>`
  (older files lack AlbumId); `Date` in Unix milliseconds. The header's user name is never read.

Scrobbles are timed by when the track started and carry no play time: they land keyed by that
start (`raw.plays.started_at`), with ms_played 0, and dbt gives them minutes.
"""

from __future__ import annotations

import re

from ingest.record_checks import csv_objects, name_track_id, names_missing, quoted, scrobble_columns, unix_time

SOURCE = "lastfm"


GHAN_HEADER = re.compile(rb'^"?uts"?,"?utc_time"?,"?artist"?,"?artist_mbid"?,"?album"?,"?album_mbid"?,"?track"?,')
STATS_HEADER = re.compile(rb'^"?Artist"?;"?Album"?;("?AlbumId"?;)?"?Track"?;"?Date#')
# a headerless `artist,album,track,date` line: its last field a date like `01 Jan 2021 16:16`
BENJAMIN_LINE = re.compile(rb',"?\d{1,2} [A-Z][a-z]{2} \d{4},? \d{2}:\d{2}"?\r?$')
PAGES_START = re.compile(rb'^\s*\[\s*\{\s*"(track|recenttracks|@attr)"\s*:')


def classify(base: str, head: bytes) -> str | None:
    """The kind of a Last.fm export from its name and first bytes, or None."""
    head = head.removeprefix(b"\xef\xbb\xbf")
    first_line = head.split(b"\n", 1)[0]
    if base.lower().endswith(".csv"):
        if GHAN_HEADER.match(first_line):
            return "lastfm_csv"
        if found := STATS_HEADER.match(first_line):
            return "lastfmstats_csv" if found.group(1) else "lastfmstats_csv_no_album_id"
        if BENJAMIN_LINE.search(first_line):
            return "lastfm_to_csv"
    if base.lower().endswith(".json") and PAGES_START.match(head):
        return "lastfm_json"
    return None


def _csv_format(fields: list[str], header: bool, delimiter: str, time_check: tuple[str, str], started_at: str,
                expected: str) -> dict:
    return {
        "source": SOURCE,
        "expected": expected,
        "fields": {name: "string" for name in fields},
        "objects": csv_objects(fields, header, delimiter),
        "checks": [names_missing("artist", "track"), time_check],
        "set_aside": "false",
        "columns": scrobble_columns(name_track_id("artist", "track"), started_at, "null", "track", "album", "artist"),
    }


GHAN_CSV = _csv_format(
    ["uts", "utc_time", "artist", "artist_mbid", "album", "album_mbid", "track", "track_mbid"], True, ",",
    (f"{unix_time('uts')} is null", "'uts is not a Unix time: ' || " + quoted("coalesce(uts, 'missing')")),
    unix_time("uts"), "a CSV of Last.fm scrobbles (lastfm.ghan.nl)")


LASTFM_TO_CSV = _csv_format(
    ["artist", "album", "track", "date"], False, ",",
    ("try_strptime(date, '%d %b %Y %H:%M') is null",
     "'date is not a time like 01 Jan 2021 16:16: ' || " + quoted("coalesce(date, 'missing')")),
    "try_strptime(date, '%d %b %Y %H:%M')", "a CSV of Last.fm scrobbles (lastfm-to-csv)")


_STATS_TIME = (f"{unix_time('date', 1)} is null",
               "'Date is not a Unix time in milliseconds: ' || " + quoted("coalesce(date, 'missing')"))


LASTFMSTATS_CSV = _csv_format(["artist", "album", "album_id", "track", "date"], True, ";", _STATS_TIME,
                              unix_time("date", 1), "a CSV of Last.fm scrobbles (lastfmstats.com)")


LASTFMSTATS_CSV_NO_ALBUM_ID = _csv_format(["artist", "album", "track", "date"], True, ";", _STATS_TIME,
                                          unix_time("date", 1), "a CSV of Last.fm scrobbles (lastfmstats.com)")


# the tracks of every page, in order: a page's `track` is a list, or the one track itself
_PAGE_TRACKS = """
    select row_number() over () - 1 as record_no, t->'$.date.uts' as uts_json, t->'$.artist."#text"' as artist_json,
           t->'$.album."#text"' as album_json, t->'$.name' as track_json, t->'$."@attr".nowplaying' as nowplaying_json
    from (select unnest(case when json_type(tracks) = 'ARRAY' then tracks::json[] else [tracks] end) as t
          from (select coalesce(track, recenttracks->'$.track') as tracks
                from read_json($path, format='array', columns={'track': 'JSON', 'recenttracks': 'JSON'})
                where coalesce(track, recenttracks->'$.track') is not null))
"""


LASTFM_JSON = {
    "source": SOURCE,
    "expected": "a JSON list of pages of Last.fm scrobbles (lastfm.ghan.nl)",
    "fields": {"uts": "string", "artist": "string", "album": "string", "track": "string", "nowplaying": "string"},
    "objects": _PAGE_TRACKS,
    "checks": [names_missing("artist", "track"),
               (f"nowplaying is distinct from 'true' and {unix_time('uts')} is null",
                "'date.uts is not a Unix time: ' || " + quoted("coalesce(uts_json::varchar, 'missing')"))],
    # the track playing while the export ran: not a finished scrobble
    "set_aside": "nowplaying = 'true'",
    "columns": scrobble_columns(name_track_id("artist", "track"), unix_time("uts"), "null", "track", "album",
                                "artist"),
}


FORMATS = {"lastfm_csv": GHAN_CSV, "lastfm_to_csv": LASTFM_TO_CSV, "lastfmstats_csv": LASTFMSTATS_CSV,
           "lastfmstats_csv_no_album_id": LASTFMSTATS_CSV_NO_ALBUM_ID, "lastfm_json": LASTFM_JSON}
