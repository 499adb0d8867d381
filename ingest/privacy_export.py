"""Import Spotify's privacy exports ("Download your data") into raw.plays.

Takes the zip Spotify sends, the folder inside it, or single files. Two formats:

- Extended streaming history, `Streaming_History_Audio_*.json` and the older
  `endsong_*.json`: one record per stream, `ts` = when it ended (UTC, seconds),
  track id in `spotify_track_uri`. Podcast episodes and audiobooks are set aside;
  `Streaming_History_Video_*.json` files are set aside whole.
- Account data, `StreamingHistory_music_*.json` / `StreamingHistory*.json`: `endTime`
  to the minute, names but no track id. Such plays land with a name-based track id
  (`name:<hash of artist and track>`); dbt resolves it to a real track with the same
  name and artist once one is known (`int_plays__track_resolved`).

Files are checked one by one: a file that cannot be read (invalid or truncated JSON, not
UTF-8, not a list of records, empty) loads nothing and is reported by name; bad records of
a readable file are rejected one by one, naming file and record. Readable files land
together, a batch (one transaction) per CHUNK_RECORDS records, so a crash mid-import
leaves whole batches behind and the next import adds the rest.
IP addresses, user agents, user names and countries are never read, so never stored.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import tempfile
import zipfile
from collections import Counter, deque
from concurrent.futures import Future, ThreadPoolExecutor
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from ingest.export_records import count_records, records_to_batch, stage_file
from warehouse.loaders import LoadReport, load_batch
from warehouse.settings import Settings, check_listener_id, check_timezone

EXTENDED = re.compile(r"^(Streaming_History_Audio_.*|endsong_.*)\.json$")
VIDEO = re.compile(r"^Streaming_History_Video_.*\.json$")
ACCOUNT_PODCAST = re.compile(r"^StreamingHistory_podcast_.*\.json$")
ACCOUNT = re.compile(r"^StreamingHistory(_music)?_?\d*\.json$")


PARSERS = 2  # files checked at once; each staged file holds its records in memory until it lands
# Records landed per transaction: large enough that the insert is cheap per record, small
# enough that a ten-year export never sits in memory at once.
CHUNK_RECORDS = 1_000_000


class ImportFileError(ValueError):
    """A whole file could not be read; nothing of it was loaded."""


class ImportRefused(ValueError):
    """The import cannot start (nothing was written); the message says why and what to do."""


@dataclass
class ExportFile:
    name: str      # as shown to the user: the path, or zip!member
    kind: str      # extended | account | video | podcast
    path: Path     # the file, or the zip it is in
    member: str | None = None

    def local_path(self, scratch: Path) -> Path:
        """A path DuckDB can read: the file itself, or the zip member extracted to `scratch`."""
        if self.member is None:
            return self.path
        with zipfile.ZipFile(self.path) as archive, archive.open(self.member) as source, scratch.open("wb") as target:
            shutil.copyfileobj(source, target)
        return scratch


@dataclass
class ImportReport:
    files_read: int = 0
    records_read: int = 0
    plays_inserted: int = 0
    duplicates_skipped: int = 0
    records_rejected: int = 0
    set_aside: int = 0
    rejected_by_reason: Counter = field(default_factory=Counter)
    failed_files: dict[str, str] = field(default_factory=dict)
    skipped_files: dict[str, str] = field(default_factory=dict)
    unresolved_tracks: int | None = None

    def lines(self) -> list[str]:
        """The report as a person reads it: the counts add up to the records read."""
        lines = [f"{self.files_read} files read, {self.records_read} records read",
                 f"  plays inserted      {self.plays_inserted}",
                 f"  duplicates skipped  {self.duplicates_skipped}",
                 f"  records rejected    {self.records_rejected}"]
        lines += [f"    {count:>8}  {reason}" for reason, count in self.rejected_by_reason.most_common()]
        lines += [f"  set aside (podcast, audiobook, video)  {self.set_aside}",
                  f"  account-data tracks not matched to a known track  {self.unresolved_tracks}"]
        lines += [f"  skipped {name}: {why}" for name, why in self.skipped_files.items()]
        lines += [f"  FAILED {why}" for why in self.failed_files.values()]
        return lines

    def as_metadata(self) -> dict:
        return {"files_read": self.files_read, "records_read": self.records_read,
                "plays_inserted": self.plays_inserted, "plays_duplicate": self.duplicates_skipped,
                "records_rejected": self.records_rejected, "set_aside": self.set_aside,
                "rejected_by_reason": dict(self.rejected_by_reason.most_common(20)),
                "unresolved_tracks": self.unresolved_tracks or 0, "files_failed": len(self.failed_files)}

    def add(self, load: LoadReport, reasons: dict[str, int]) -> None:
        self.records_read += load.records_read
        self.plays_inserted += load.plays_inserted
        self.duplicates_skipped += load.plays_duplicate
        self.records_rejected += load.records_rejected
        self.set_aside += load.records_set_aside
        self.rejected_by_reason.update(reasons)


def classify(name: str) -> str | None:
    base = name.rsplit("/", 1)[-1]
    if EXTENDED.match(base):
        return "extended"
    if VIDEO.match(base):
        return "video"
    if ACCOUNT_PODCAST.match(base):
        return "podcast"
    if ACCOUNT.match(base):
        return "account"
    return None


def discover(path: Path, skipped: dict[str, str]) -> Iterator[ExportFile]:
    """Every export file under `path` (a zip, a folder, or one file), in name order."""
    if path.is_dir():
        for file in sorted(p for p in path.rglob("*") if p.is_file()):
            yield from discover(file, skipped)
    elif zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            for info in sorted(archive.infolist(), key=lambda i: i.filename):
                if info.is_dir():
                    continue
                name = f"{path}!{info.filename}"
                kind = classify(info.filename)
                if kind is None:
                    skipped[name] = "not a streaming-history file"
                else:
                    yield ExportFile(name, kind, path, info.filename)
    elif path.exists():
        kind = classify(path.name)
        if kind is None:
            skipped[str(path)] = "not a streaming-history file"
        else:
            yield ExportFile(str(path), kind, path)
    else:
        raise FileNotFoundError(f"{path}: no such file or folder")


def _diagnose(name: str, data: bytes) -> str | None:
    """Why a file cannot be read as a list of records, in words that name the place; None if it can."""
    if not data.strip():
        return f"{name}: empty file"
    try:
        records = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        return f"{name}: not UTF-8 text ({exc.reason} at byte {exc.start})"
    except json.JSONDecodeError as exc:
        return f"{name}: invalid or truncated JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
    if not isinstance(records, list):
        return f"{name}: expected a JSON list of records, found {type(records).__name__}"
    return None


STAGING = "export_staging"  # an in-memory database beside the warehouse, shared by the parsing threads


@dataclass
class ParsedFile:
    source: str                    # extended_history | account_data
    table: str | None              # the staged, checked records (None for a file only counted)
    set_aside: int = 0             # records of a file set aside whole (videos, podcasts)
    records: int = 0


def parse_export_file(con: duckdb.DuckDBPyConnection, file: ExportFile, path: Path, table: str) -> ParsedFile:
    """Check one file's records into `table`; raise ImportFileError if the file as a whole is unreadable."""
    source = "account_data" if file.kind in ("account", "podcast") else "extended_history"
    size = path.stat().st_size
    if size == 0 or (size < 1024 and not path.read_bytes().strip()):
        raise ImportFileError(f"{file.name}: empty file")
    try:
        if file.kind in ("video", "podcast"):
            return ParsedFile(source, None, set_aside=count_records(con, str(path)))
        return ParsedFile(source, table, records=stage_file(con, str(path), file.kind, file.name, table))
    except duckdb.Error as exc:
        raise ImportFileError(_diagnose(file.name, path.read_bytes()) or f"{file.name}: {exc}") from None


@dataclass
class _Chunk:
    """Parsed files of one source waiting to land together."""
    files: list[str] = field(default_factory=list)
    tables: list[str] = field(default_factory=list)
    records: int = 0
    set_aside: int = 0

    def add(self, name: str, parsed: ParsedFile) -> None:
        self.files.append(name)
        self.set_aside += parsed.set_aside
        self.records += parsed.records
        if parsed.table:
            self.tables.append(parsed.table)


def _land(con: duckdb.DuckDBPyConnection, source: str, chunk: _Chunk, listener_id: str,
          report: ImportReport) -> None:
    note = f"{len(chunk.files)} file(s): " + ", ".join(chunk.files)
    batch, reasons = records_to_batch(con, source, listener_id, chunk.tables, chunk.set_aside, note)
    report.add(load_batch(con, batch), reasons)
    for table in chunk.tables:
        con.execute(f"drop table {table}")


def register_listener(con: duckdb.DuckDBPyConnection, settings: Settings, listener_id: str,
                      display_name: str = "", timezone: str = "") -> None:
    """Make sure the listener exists before their history lands. A known or configured listener
    keeps its name and timezone unless new ones are given; a new one must say its timezone, and
    generated demo plays are never mixed with a real history."""
    try:
        check_listener_id(listener_id)
        if timezone:
            check_timezone(timezone)
    except ValueError as exc:
        raise ImportRefused(str(exc)) from None
    demo = con.execute("select count(*) from raw.plays where listener_id = ? and source = 'demo'",
                       [listener_id]).fetchone()[0]
    if demo:
        raise ImportRefused(
            f"listener {listener_id!r} holds the generated demo history ({demo} plays); import under your own id, "
            f"e.g. `--listener me --timezone Europe/Berlin --display-name Me`, or start from an empty warehouse "
            f"(`make clean`)")
    known = con.execute("select display_name, timezone from raw.listeners where listener_id = ?",
                        [listener_id]).fetchone()
    configured = {settings.listener_id: (settings.display_name, settings.timezone)} | {
        entry.get("listener_id"): (entry.get("display_name", entry.get("listener_id")),
                                   entry.get("timezone", settings.timezone)) for entry in settings.extra_listeners}
    name, zone = known or configured.get(listener_id) or (None, None)
    if zone is None and not timezone:
        raise ImportRefused(
            f"listener {listener_id!r} is new: say whose history this is, e.g. `spotify-brain import PATH "
            f"--listener {listener_id} --timezone Europe/Berlin --display-name {listener_id.title()}` "
            f"(or add it to SPOTIFY_BRAIN_LISTENERS)")
    con.execute(
        "insert or replace into raw.listeners values (?, ?, ?, 'privacy_export', 'privacy_export-listener', ?)",
        [listener_id, display_name or name or listener_id, timezone or zone,
         datetime.now(UTC).replace(tzinfo=None)])


def import_for_listener(con: duckdb.DuckDBPyConnection, settings: Settings, path: str | Path, listener_id: str,
                        display_name: str = "", timezone: str = "",
                        progress: Callable[[int, int, str], None] | None = None) -> ImportReport:
    """Check the path and the listener, then import; ImportRefused (nothing written) if either is wrong."""
    path = Path(path)
    if not path.exists():
        raise ImportRefused(f"{path}: no such file or folder")
    register_listener(con, settings, listener_id, display_name, timezone)
    return import_export(con, path, listener_id, progress)


def import_export(con: duckdb.DuckDBPyConnection, path: Path, listener_id: str,
                  progress: Callable[[int, int, str], None] | None = None) -> ImportReport:
    """Land every play of an export for one listener; duplicate files and re-imports add nothing.
    Files are checked two at a time (DuckDB works outside the GIL) into staging tables while
    the main thread lands them, in order, a batch (one transaction) per CHUNK_RECORDS records
    of one source."""
    report = ImportReport()
    files = list(discover(path, report.skipped_files))
    seen = _SeenFiles()
    con.execute(f"attach if not exists ':memory:' as {STAGING}")
    try:
        with tempfile.TemporaryDirectory(prefix="spotify-brain-import-") as scratch:
            todo = []
            for number, file in enumerate(files, start=1):
                local = file.local_path(Path(scratch) / f"{number}.json")
                same_as = seen.same_as(file.name, local)
                if same_as:
                    report.skipped_files[file.name] = f"same content as {same_as}"
                else:
                    todo.append((file, local, f"{STAGING}.file_{number}"))
            _land_all(con, todo, listener_id, report, progress)
    finally:
        con.execute(f"detach database if exists {STAGING}")
    report.unresolved_tracks = unresolved_name_tracks(con, listener_id)
    return report


def _land_all(con: duckdb.DuckDBPyConnection, todo: list[tuple[ExportFile, Path, str]], listener_id: str,
              report: ImportReport, progress: Callable[[int, int, str], None] | None) -> None:
    def parse(item: tuple[ExportFile, Path, str]) -> ParsedFile | ImportFileError:
        try:
            return parse_export_file(con.cursor(), *item)
        except ImportFileError as exc:
            return exc

    chunks: dict[str, _Chunk] = {}
    with ThreadPoolExecutor(max_workers=PARSERS) as pool:
        for number, ((file, _, _), parsed) in enumerate(zip(todo, _ordered(pool, parse, todo)), start=1):
            if progress:
                progress(number, len(todo), file.name)
            if isinstance(parsed, ImportFileError):
                report.failed_files[file.name] = str(parsed)
                continue
            report.files_read += 1
            chunk = chunks.setdefault(parsed.source, _Chunk())
            chunk.add(file.name, parsed)
            if chunk.records >= CHUNK_RECORDS:
                _land(con, parsed.source, chunks.pop(parsed.source), listener_id, report)
    for source, chunk in chunks.items():
        _land(con, source, chunk, listener_id, report)


def _ordered(pool: ThreadPoolExecutor, work: Callable, items: list) -> Iterator:
    """`work` over `items` in the pool, results in order, at most PARSERS + 1 results held at once."""
    pending: deque[Future] = deque()
    for item in items:
        pending.append(pool.submit(work, item))
        if len(pending) > PARSERS:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()


class _SeenFiles:
    """Files already imported in this run, compared by size first and by content hash on a tie."""

    def __init__(self) -> None:
        self.by_size: dict[int, list[tuple[str, Path]]] = {}
        self.hashes: dict[Path, str] = {}

    def _hash(self, path: Path) -> str:
        if path not in self.hashes:
            with path.open("rb") as handle:
                self.hashes[path] = hashlib.file_digest(handle, "sha256").hexdigest()
        return self.hashes[path]

    def same_as(self, name: str, path: Path) -> str | None:
        earlier = self.by_size.setdefault(path.stat().st_size, [])
        for other_name, other_path in earlier:
            if self._hash(other_path) == self._hash(path):
                return other_name
        earlier.append((name, path))
        return None


def unresolved_name_tracks(con: duckdb.DuckDBPyConnection, listener_id: str) -> int:
    """Account-data tracks (name-based ids) with no known track of the same name and artist.
    The same rule as dbt's int_plays__track_resolved, counted here for the import report."""
    return con.execute(
        """
        select count(distinct p.track_id)
        from raw.plays p join raw.tracks n on n.track_id = p.track_id
        where p.listener_id = ? and p.track_id like 'name:%'
          and not exists (
            select 1 from raw.tracks t
            where t.track_id not like 'name:%'
              and lower(trim(t.track_name)) = lower(trim(n.track_name))
              and lower(trim(t.artist_names[1])) = lower(trim(n.artist_names[1])))
        """,
        [listener_id],
    ).fetchone()[0]
