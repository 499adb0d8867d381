"""Check the records of a download's files in DuckDB, and turn checked records into a batch.
Checked records are staged in DuckDB tables and land from there, never copied through Python.

DuckDB reads each file (`read_json` or `read_csv`, in file order) and every check runs in SQL,
so a million records import at close to the speed of a bare read. Each check is a
(condition, reason) pair; the first that holds rejects the record. Reasons read
"<what is wrong>: <value>" (never the whole record: that may hold an IP address); the
part before the colon is what the import report counts. The formats (ingest/formats.py, one
module per service) list the fields they read; others are never read, so private ones
(IP address, user agent, user name, country) cannot reach the warehouse.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import duckdb

from ingest.formats import FORMATS, SET_ASIDE_WHOLE, source_of
from ingest.record_checks import field_columns
from ingest.spotify_download.files import SCRATCH_PREFIX, DownloadFile, ImportFileError, shown
from warehouse.loaders import REJECT_SCHEMA, TRACK_SCHEMA, RawBatch

WHOLE_RECORDS = ("select row_number() over () - 1 as record_no, json as rec "
                 "from read_json($path, format='array', records=false, columns={'json': 'JSON'})")


def count_records(con: duckdb.DuckDBPyConnection, path: str) -> int:
    """Records in a file that is counted but not landed (videos, podcasts); raises if unreadable."""
    return con.execute(f"select count(*) from ({WHOLE_RECORDS})", {"path": path}).fetchone()[0]


def _objects_fast(fields: dict[str, str]) -> str:
    """Each field straight from `read_json`, as JSON; fails on a record that is not an object."""
    types = "{" + ", ".join(f"'{name}': 'JSON'" for name in fields) + "}"
    picked = ", ".join(f'"{name}" as {name}_json' for name in fields)
    return (f"select row_number() over () - 1 as record_no, {picked} "
            f"from read_json($path, format='array', columns={types})")


def _objects_of_whole_records(fields: dict[str, str]) -> str:
    """The same columns from whole records, skipping those that are not objects (slower)."""
    struct = "{" + ", ".join(f'"{name}": "JSON"' for name in fields) + "}"
    picked = ", ".join(f"f.{name} as {name}_json" for name in fields)
    return (f"select record_no, {picked} from (select record_no, json_transform(rec, '{struct}') as f "
            f"from ({WHOLE_RECORDS}) where json_type(rec) = 'OBJECT')")


def _checked(fmt: dict, whole_records: bool) -> str:
    """The query that checks every record; parameters $path (the file) and $name (as shown).
    The format's own reader, else a JSON list: fast, fields straight from read_json; or whole
    records, slower, but coping with records that are not objects."""
    if "objects" in fmt:
        objects = fmt["objects"]
    else:
        objects = (_objects_of_whole_records if whole_records else _objects_fast)(fmt["fields"])
    reason = "case " + " ".join(f"when {c} then {r}" for c, r in fmt["checks"]) + " end"
    payload = "json_object(" + ", ".join(f"'{name}', {name}_json" for name in fmt["fields"]) + ")::varchar"
    sql = f"""
        with checked as (
            select *, {reason} as reason
            from (select *, {field_columns(fmt['fields'])} from ({objects}))
        )
        select record_no, case when reason is not null then $name || ' record #' || record_no end as record_ref,
               reason, reason is null and coalesce(({fmt['set_aside']}), false) as set_aside, {fmt['columns']},
               case when reason is not null then {payload} end as payload
        from checked
        """
    if whole_records and "objects" not in fmt:
        sql += f"""
        union all by name
        select record_no, $name || ' record #' || record_no as record_ref,
               'record is not an object: ' || lower(coalesce(json_type(rec), 'null')) as reason,
               false as set_aside,
               -- a list's items could be anything, private fields included: only scalars are kept
               case when json_type(rec) <> 'ARRAY' then rec::varchar end as payload
        from ({WHOLE_RECORDS}) where json_type(rec) is distinct from 'OBJECT'
        """
    return sql


def stage_file(con: duckdb.DuckDBPyConnection, path: str, kind: str, display_name: str, table: str) -> int:
    """Check every record of one file into a new `table` (one row per record, with its number);
    return the record count. Raises duckdb.Error if the file is not a readable JSON array."""
    fmt = FORMATS[kind]
    params = {"path": path, "name": display_name}
    try:
        return con.execute(f"create table {table} as {_checked(fmt, False)}", params).fetchone()[0]
    except duckdb.Error:
        if "objects" in fmt:  # the format's own reader has no slower way
            raise
        # a record that is not an object (or a file that is not JSON) stops the fast read
        return con.execute(f"create table {table} as {_checked(fmt, True)}", params).fetchone()[0]


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def append_to_chunk(con: duckdb.DuckDBPyConnection, chunk: str, file_table: str, file_number: int,
                    first: bool) -> None:
    """Move one file's checked records into the table of the batch it lands with, numbered in batch
    order (`seq`: files in import order, records in file order); the file's own table is dropped."""
    rows = f"select ({file_number}::bigint << 32) + record_no as seq, * from {file_table}"
    con.execute(f"create table {chunk} as {rows}" if first else f"insert into {chunk} {rows}")
    con.execute(f"drop table {file_table}")


def records_to_batch(con: duckdb.DuckDBPyConnection, source: str, listener_id: str, chunk: str | None,
                     set_aside: int = 0, note: str | None = None) -> tuple[RawBatch, Counter]:
    """One batch from the staged records of several files (`chunk`, append_to_chunk's table), and
    rejects by reason. Plays stay in DuckDB (a relation); a track's names come from its first record."""
    if chunk is None:
        return RawBatch(source, listener_id, set_aside=set_aside, note=note), {}
    valid = "reason is null and not set_aside"
    plays = con.sql(
        f"""select {_literal(listener_id)} as listener_id, track_id, played_at, ms_played, skipped,
                   reason_start, reason_end, shuffle, null::varchar as context_uri, platform, started_at,
                   seq as record_no
            from {chunk} where {valid}""")
    tracks = con.execute(
        f"""select track_id, arg_min(track_name, seq) as track_name, null::varchar as album_id,
                   arg_min(album_name, seq) as album_name, null::varchar as album_image_url,
                   null::bigint as duration_ms, null::varchar[] as artist_ids,
                   arg_min(case when artist_name <> '' then [artist_name] end, seq) as artist_names
            from {chunk} where {valid} group by track_id"""
    ).to_arrow_table().cast(TRACK_SCHEMA)
    rejected = con.execute(
        f"""select record_ref, reason, left(payload, 2000) as payload
            from {chunk} where reason is not null order by seq"""
    ).to_arrow_table().cast(REJECT_SCHEMA)
    set_aside += con.execute(f"select count(*) from {chunk} where set_aside").fetchone()[0]
    reasons = Counter(reason.split(":", 1)[0] for reason in rejected["reason"].to_pylist())
    batch = RawBatch(source, listener_id, plays=plays, tracks=tracks, rejected=rejected, set_aside=set_aside,
                     note=note)
    return batch, reasons


def _diagnose(name: str, path: Path, error: Exception, kind: str) -> str:
    """Why a file cannot be read as its kind's records, in words that name it. Reads a few bytes
    only (the file may be large), and DuckDB's own message for the rest."""
    with path.open("rb") as handle:
        head = handle.read(4096)
    if head.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in head[:64]:
        return f"{name}: UTF-16 (or other wide) text, not UTF-8; open it in an editor and save it as UTF-8"
    first = head.lstrip()[:1]
    if not first:
        return f"{name}: empty file"
    message = str(error).splitlines()[0] if str(error) else type(error).__name__
    expected = FORMATS.get(kind, {}).get("expected")
    if expected:  # another service's file, read its own way
        return f"{name}: not readable as {expected} ({shown(message)})"
    if first != b"[" and not head.startswith(b"\xef\xbb\xbf["):
        found = {b"{": "an object", b'"': "a string"}.get(first, "something else")
        return f"{name}: expected a JSON list of records, found {found}"
    if isinstance(error, UnicodeDecodeError) or "UTF-8" in message:
        return f"{name}: not UTF-8 text ({shown(message.split(': ', 1)[-1])})"
    where = message.split('",', 1)[-1].strip() if '",' in message else message
    return f"{name}: invalid or truncated JSON ({shown(where)})"


@dataclass
class ParsedFile:
    source: str                    # raw.plays.source: extended_history | account_data | lastfm | listenbrainz
    table: str | None              # the staged, checked records (None for a file only counted)
    set_aside: int = 0             # records of a file set aside whole (videos, podcasts, audiobooks)
    records: int = 0
    repaired: int = 0              # lone surrogate escapes replaced by U+FFFD


def _blank(path: Path) -> bool:
    """Empty, or nothing but white space (read until the first other byte: a real file stops at once)."""
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            if chunk.strip():
                return False
    return True


def parse_file(con: duckdb.DuckDBPyConnection, file: DownloadFile, path: Path, table: str) -> ParsedFile:
    """Check one file's records into `table`; raise ImportFileError if the file as a whole is
    unreadable. A lone surrogate escape (half an emoji, "\\ud83d") makes a whole file invalid JSON
    to DuckDB: such a file is read from a copy with each one replaced by U+FFFD, and says so."""
    if _blank(path):
        raise ImportFileError(f"{file.name}: empty file (nothing but white space)")
    try:
        return _parse(con, file, path, table)
    # DuckDB's errors, and the Python ones its messages can raise (a message quoting bytes that
    # are not UTF-8 cannot even be decoded)
    except (duckdb.Error, UnicodeError, RecursionError, ValueError) as exc:
        con.execute(f"drop table if exists {table}")
        if "surrogate" not in str(exc):
            raise ImportFileError(_diagnose(file.name, path, exc, file.kind)) from None
    with tempfile.TemporaryDirectory(prefix=f"{SCRATCH_PREFIX}{os.getpid()}-") as scratch:
        repaired, count = _without_lone_surrogates(path, Path(scratch) / "repaired.json")
        try:
            parsed = _parse(con, file, repaired, table)
        except (duckdb.Error, UnicodeError, RecursionError, ValueError) as exc:
            con.execute(f"drop table if exists {table}")
            raise ImportFileError(_diagnose(file.name, repaired, exc, file.kind)) from None
    parsed.repaired = count
    return parsed


def _parse(con: duckdb.DuckDBPyConnection, file: DownloadFile, path: Path, table: str) -> ParsedFile:
    source = source_of(file.kind)
    if file.kind in SET_ASIDE_WHOLE:
        return ParsedFile(source, None, set_aside=count_records(con, str(path)))
    return ParsedFile(source, table, records=stage_file(con, str(path), file.kind, file.name, table))


# a \\uD800-\\uDBFF escape with no low half after it, or a \\uDC00-\\uDFFF one with no high half
# before it; an even number of backslashes before (escaped backslashes) leaves it an escape
LONE_SURROGATE = re.compile(
    r"(?<!\\)((?:\\\\)*)(?:\\u[dD][89abAB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F][0-9a-fA-F]{2})"
    r"|(?<!\\u[dD][89abAB][0-9a-fA-F]{2})\\u[dD][c-fC-F][0-9a-fA-F]{2})")


def _without_lone_surrogates(path: Path, copy: Path) -> tuple[Path, int]:
    text = path.read_bytes().decode("utf-8", errors="surrogateescape")
    fixed, count = LONE_SURROGATE.subn(lambda m: m.group(1) + "\\ufffd", text)
    copy.write_bytes(fixed.encode("utf-8", errors="surrogateescape"))
    return copy, count
