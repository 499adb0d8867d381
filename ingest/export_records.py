"""Parse the records of one privacy-export file in DuckDB: plays, tracks and rejects as Arrow.

DuckDB reads the file (`read_json`, one JSON value per record, in file order) and every
check runs in SQL, so a million records import at close to the speed of a bare `read_json`.
Each check is a (condition, reason) pair; the first that holds rejects the record. Reasons
read "<what is wrong>: <value>" (never the whole record: that may hold an IP address); the
part before the colon is what the import report counts.
In conditions, a field's name is its typed value and `<field>_type` its JSON type.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import pyarrow as pa

from warehouse.loaders import PLAY_SCHEMA, REJECT_SCHEMA, TRACK_SCHEMA

# never stored, not even in a rejected record's payload
PRIVATE_FIELDS = ("ip_addr", "ip_addr_decrypted", "user_agent_decrypted", "username", "conn_country")
TRACK_URI = "^spotify:track:([0-9A-Za-z]{22})$"
INT32_MAX = 2_147_483_647
SQL_TYPES = {"string": "varchar", "boolean": "boolean", "count": "bigint"}
JSON_TYPES = {"string": "'VARCHAR'", "boolean": "'BOOLEAN'", "count": "'UBIGINT', 'BIGINT'"}

EXTENDED_FIELDS = {  # field -> expected JSON type
    "ts": "string", "ms_played": "count", "spotify_track_uri": "string",
    "master_metadata_track_name": "string", "master_metadata_album_artist_name": "string",
    "master_metadata_album_album_name": "string", "reason_start": "string", "reason_end": "string",
    "shuffle": "boolean", "skipped": "boolean", "platform": "string",
    "spotify_episode_uri": "string", "episode_name": "string", "audiobook_uri": "string", "audiobook_title": "string",
}
ACCOUNT_FIELDS = {"endTime": "string", "artistName": "string", "trackName": "string", "msPlayed": "count"}


@dataclass
class ParsedFile:
    plays: pa.Table
    tracks: pa.Table
    rejected: pa.Table
    set_aside: int
    reasons: dict[str, int]


def _type_checks(fields: dict[str, str]) -> list[tuple[str, str]]:
    """A field of the wrong JSON type rejects the record; counts must be present and fit raw.plays."""
    checks = []
    for name, kind in fields.items():
        shown = f"coalesce(f.{name}::varchar, 'missing')"
        if kind == "count":
            checks.append((f"{name}_type is null or {name}_type not in ({JSON_TYPES[kind]}) "
                           f"or not coalesce({name} between 0 and {INT32_MAX}, false)",
                           f"'{name} is not a non-negative integer: ' || {shown}"))
        else:
            checks.append((f"{name}_type not in ('NULL', {JSON_TYPES[kind]})",
                           f"'{name} has type ' || lower({name}_type) || ', expected {kind}: ' || {shown}"))
    return checks


PODCAST_OR_AUDIOBOOK = ("coalesce(spotify_episode_uri, episode_name, audiobook_uri, audiobook_title, '') <> ''")
EXTENDED = {
    "fields": EXTENDED_FIELDS,
    "checks": [
        *_type_checks(EXTENDED_FIELDS),
        (f"spotify_track_uri is null and not {PODCAST_OR_AUDIOBOOK}",
         "'no spotify_track_uri and not a podcast or audiobook'"),
        (f"spotify_track_uri is not null and not regexp_matches(spotify_track_uri, '{TRACK_URI}')",
         "'spotify_track_uri is not a track URI: ' || f.spotify_track_uri::varchar"),
        ("spotify_track_uri is not null and ts is null", "'ts is missing'"),
        ("spotify_track_uri is not null and try_strptime(ts, '%Y-%m-%dT%H:%M:%SZ') is null",
         "'ts is not an ISO 8601 UTC time: ' || f.ts::varchar"),
    ],
    "set_aside": "spotify_track_uri is null",
    "columns": f"""regexp_extract(spotify_track_uri, '{TRACK_URI}', 1) as track_id,
        try_strptime(ts, '%Y-%m-%dT%H:%M:%SZ') as played_at, ms_played, skipped, reason_start, reason_end,
        shuffle, platform, master_metadata_track_name as track_name,
        master_metadata_album_album_name as album_name, master_metadata_album_artist_name as artist_name""",
}
# Account data has names but no track id: the id is a hash of artist and track name
# (`name:<hash>`), resolved to a real track in dbt (int_plays__track_resolved).
ACCOUNT = {
    "fields": ACCOUNT_FIELDS,
    "checks": [
        *_type_checks(ACCOUNT_FIELDS),
        ("coalesce(trim(artistName), '') = '' or coalesce(trim(trackName), '') = ''",
         "'artistName or trackName is missing'"),
        ("try_strptime(endTime, '%Y-%m-%d %H:%M') is null",
         "'endTime is not a YYYY-MM-DD HH.MM time: ' || coalesce(f.endTime::varchar, 'missing')"),
    ],
    "set_aside": "false",
    "columns": """'name:' || sha256(lower(trim(artistName)) || chr(31) || lower(trim(trackName)))[1:22] as track_id,
        try_strptime(endTime, '%Y-%m-%d %H:%M') as played_at, msPlayed as ms_played, null::boolean as skipped,
        null::varchar as reason_start, null::varchar as reason_end, null::boolean as shuffle,
        null::varchar as platform, trackName as track_name, null::varchar as album_name,
        artistName as artist_name""",
}
FORMATS = {"extended": EXTENDED, "account": ACCOUNT}
READ_RECORDS = "read_json(?, format='array', records=false, columns={'json': 'JSON'})"


def count_records(con: duckdb.DuckDBPyConnection, path: str) -> int:
    """Records in a file that is counted but not landed (videos, podcasts); raises if unreadable."""
    return con.execute(f"select count(*) from {READ_RECORDS}", [path]).fetchone()[0]


def _field_columns(fields: dict[str, str]) -> str:
    """Per field: its JSON type and its value as a SQL type (null if it does not cast)."""
    columns = []
    for name, kind in fields.items():
        value = f"f.{name} ->> '$'" if kind == "string" else f"try_cast(f.{name}::varchar as {SQL_TYPES[kind]})"
        columns.append(f"json_type(f.{name}) as {name}_type, {value} as {name}")
    return ",\n".join(columns)


def parse_file(con: duckdb.DuckDBPyConnection, path: str, kind: str, display_name: str,
               listener_id: str) -> ParsedFile:
    """Check every record of one file; raises duckdb.Error if the file is not a readable JSON array."""
    fmt = FORMATS[kind]
    struct = "{" + ", ".join(f'"{name}": "JSON"' for name in fmt["fields"]) + "}"
    reason = "case " + " ".join(f"when {c} then {r}" for c, r in fmt["checks"]) + " end"
    private = "{" + ", ".join(f'"{name}": null' for name in PRIVATE_FIELDS) + "}"
    con.execute(
        f"""
        create or replace temp table export_records as
        with records as (
            select row_number() over () - 1 as record_no, json as rec from {READ_RECORDS}
        ), fields as (
            select record_no, rec::varchar as rec, f, {_field_columns(fmt['fields'])}
            from (select record_no, rec, json_transform(rec, '{struct}') as f
                  from records where json_type(rec) = 'OBJECT')
        ), checked as (
            select *, {reason} as reason from fields
        )
        select record_no, reason, reason is null and ({fmt['set_aside']}) as set_aside, {fmt['columns']},
               case when reason is not null then json_merge_patch(rec, '{private}') end as payload
        from checked
        union all by name
        select record_no, 'record is not an object: ' || coalesce(rec::varchar, 'null') as reason,
               false as set_aside, rec::varchar as payload
        from records where json_type(rec) is distinct from 'OBJECT'
        """,
        [path],
    )
    valid = "reason is null and not set_aside"
    plays = con.execute(
        f"""select ?::varchar as listener_id, track_id, played_at, ms_played, skipped, reason_start, reason_end,
                   shuffle, null::varchar as context_uri, platform
            from export_records where {valid} order by record_no""",
        [listener_id],
    ).fetch_arrow_table().cast(PLAY_SCHEMA)
    tracks = con.execute(
        f"""select track_id, arg_min(track_name, record_no) as track_name, null::varchar as album_id,
                   arg_min(album_name, record_no) as album_name, null::varchar as album_image_url,
                   null::bigint as duration_ms, null::varchar[] as artist_ids,
                   arg_min(case when artist_name <> '' then [artist_name] end, record_no) as artist_names
            from export_records where {valid} group by track_id"""
    ).fetch_arrow_table().cast(TRACK_SCHEMA)
    rejected = con.execute(
        """select ? || ' record #' || record_no as record_ref, reason, left(payload, 2000) as payload
           from export_records where reason is not null order by record_no""",
        [display_name],
    ).fetch_arrow_table().cast(REJECT_SCHEMA)
    set_aside = con.execute("select count(*) from export_records where set_aside").fetchone()[0]
    reasons = dict(con.execute("select split_part(reason, ':', 1), count(*) from export_records "
                               "where reason is not null group by 1").fetchall())
    con.execute("drop table export_records")
    return ParsedFile(plays, tracks, rejected, set_aside, reasons)
