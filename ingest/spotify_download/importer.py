"""Land a data download for one listener: files checked two at a time, their records landed in
order, a batch (one transaction) per CHUNK_RECORDS records of one source; the report adds up."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from ingest.spotify_download.files import (MAX_UNPACKED_BYTES, SCRATCH_PREFIX, Archives, DownloadFile,
                                           ImportFileError, SeenFiles, discover)
from ingest.spotify_download.records import ParsedFile, append_to_chunk, parse_file, records_to_batch
from warehouse.connection import process_alive
from warehouse.loaders import LoadReport, load_batch, save_listener
from warehouse.settings import Settings, check_listener_id, check_timezone

STAGING = "export_staging"  # an in-memory database beside the warehouse, shared by the parsing threads
OLD_SCRATCH_AGE_S = 24 * 3600  # folders from before the pid was in the name
PARSERS = 2  # files checked at once; each staged file holds its records in memory until it lands
# Records landed per transaction: large enough that the insert is cheap per record, small
# enough that a ten-year export never sits in memory at once.
CHUNK_RECORDS = 250_000  # a 1.5M-play export: 940 MB peak at 1M, 490 MB at 250k, 19% slower


class ImportRefused(ValueError):
    """The import cannot start (nothing was written); the message says why and what to do."""


@dataclass
class ImportReport:
    files_read: int = 0
    records_read: int = 0
    plays_inserted: int = 0
    duplicates_skipped: int = 0
    plays_folded: int = 0
    records_rejected: int = 0
    set_aside: int = 0
    rejected_by_reason: Counter = field(default_factory=Counter)
    failed_files: dict[str, str] = field(default_factory=dict)
    skipped_files: dict[str, str] = field(default_factory=dict)
    repaired_files: dict[str, int] = field(default_factory=dict)  # lone surrogate escapes replaced
    unresolved_tracks: int | None = None

    def lines(self) -> list[str]:
        """The report as a person reads it: the counts add up to the records read."""
        lines = [f"{self.files_read} files read, {self.records_read} records read",
                 f"  plays inserted      {self.plays_inserted}",
                 f"  duplicates skipped  {self.duplicates_skipped}  (the same play again)",
                 f"  folded into a play  {self.plays_folded}  (another record of its track and end time: "
                 f"account data's minutes added up, else the longest kept)",
                 f"  records rejected    {self.records_rejected}"]
        lines += [f"    {count:>8}  {reason}" for reason, count in self.rejected_by_reason.most_common()]
        lines += [f"  set aside (podcast, audiobook, video, naming no track, playing while exported)  {self.set_aside}",
                  f"  tracks known by name only (account data, scrobbles), not matched to a known track  "
                  f"{self.unresolved_tracks}"]
        lines += [f"  skipped {name}: {why}" for name, why in self.skipped_files.items()]
        lines += [f"  repaired {name}: {count} lone surrogate escape(s) (half an emoji) read as U+FFFD"
                  for name, count in self.repaired_files.items()]
        lines += [f"  FAILED {why}" for why in self.failed_files.values()]
        return lines

    def as_metadata(self) -> dict:
        return {"files_read": self.files_read, "records_read": self.records_read,
                "plays_inserted": self.plays_inserted, "plays_duplicate": self.duplicates_skipped,
                "plays_folded": self.plays_folded,
                "records_rejected": self.records_rejected, "set_aside": self.set_aside,
                "rejected_by_reason": dict(self.rejected_by_reason.most_common(20)),
                "unresolved_tracks": self.unresolved_tracks or 0, "files_failed": len(self.failed_files)}

    def add(self, load: LoadReport, reasons: dict[str, int]) -> None:
        self.records_read += load.records_read
        self.plays_inserted += load.plays_inserted
        self.duplicates_skipped += load.plays_duplicate
        self.plays_folded += load.plays_folded
        self.records_rejected += load.records_rejected
        self.set_aside += load.records_set_aside
        self.rejected_by_reason.update(reasons)
        self.rejected_by_reason.update(load.rejected_by_reason)


@dataclass
class _Chunk:
    """Parsed files of one source waiting to land together, their records in one table."""
    table: str
    files: list[str] = field(default_factory=list)
    records: int = 0
    set_aside: int = 0
    staged: bool = False  # the table exists

    def add(self, con: duckdb.DuckDBPyConnection, name: str, parsed: ParsedFile) -> None:
        self.set_aside += parsed.set_aside
        self.records += parsed.records
        if parsed.table:
            append_to_chunk(con, self.table, parsed.table, len(self.files), first=not self.staged)
            self.staged = True
        self.files.append(name)


def _land(con: duckdb.DuckDBPyConnection, source: str, chunk: _Chunk, listener_id: str,
          report: ImportReport) -> None:
    note = f"{len(chunk.files)} file(s): " + ", ".join(chunk.files)
    batch, reasons = records_to_batch(con, source, listener_id, chunk.table if chunk.staged else None,
                                      chunk.set_aside, note)
    report.add(load_batch(con, batch), reasons)
    if chunk.staged:
        con.execute(f"drop table {chunk.table}")


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
    save_listener(con, listener_id, display_name or name or listener_id, timezone or zone, "privacy_export")


def import_for_listener(con: duckdb.DuckDBPyConnection, settings: Settings, path: str | Path, listener_id: str,
                        display_name: str = "", timezone: str = "",
                        progress: Callable[[int, int, str], None] | None = None) -> ImportReport:
    """Check the path and the listener, then import; ImportRefused (nothing written) if either is wrong."""
    path = Path(path)
    if not path.exists():
        raise ImportRefused(f"{path}: no such file or folder")
    register_listener(con, settings, listener_id, display_name, timezone)
    return import_download(con, path, listener_id, progress)


def import_download(con: duckdb.DuckDBPyConnection, path: Path, listener_id: str,
                  progress: Callable[[int, int, str], None] | None = None) -> ImportReport:
    """Land every play of an export for one listener; duplicate files and re-imports add nothing.
    Files are checked two at a time (DuckDB works outside the GIL) into staging tables while
    the main thread lands them, in order, a batch (one transaction) per CHUNK_RECORDS records
    of one source."""
    report = ImportReport()
    files = list(discover(path, report))
    seen, archives = SeenFiles(), Archives()
    con.execute(f"attach if not exists ':memory:' as {STAGING}")
    try:
        remove_stale_scratch()
        with tempfile.TemporaryDirectory(prefix=f"{SCRATCH_PREFIX}{os.getpid()}-") as scratch:
            todo, room = [], MAX_UNPACKED_BYTES
            for number, file in enumerate(files, start=1):
                try:
                    local = file.local_path(Path(scratch) / f"{number}.json", room, archives)
                except ImportFileError as exc:
                    report.failed_files[file.name] = str(exc)
                    continue
                if file.member is not None:
                    room -= local.stat().st_size
                same_as = seen.same_as(file.name, local)
                if same_as:
                    report.skipped_files[file.name] = f"same content as {same_as}"
                else:
                    todo.append((file, local, f"{STAGING}.file_{number}"))
            _land_all(con, todo, listener_id, report, progress)
    finally:
        archives.close()
        con.execute(f"detach database if exists {STAGING}")
    report.unresolved_tracks = unresolved_name_tracks(con, listener_id)
    return report


def _land_all(con: duckdb.DuckDBPyConnection, todo: list[tuple[DownloadFile, Path, str]], listener_id: str,
              report: ImportReport, progress: Callable[[int, int, str], None] | None) -> None:
    def parse(item: tuple[DownloadFile, Path, str]) -> ParsedFile | ImportFileError:
        try:
            return parse_file(con.cursor(), *item)
        except ImportFileError as exc:
            return exc

    chunks: dict[str, _Chunk] = {}
    batches = 0
    with ThreadPoolExecutor(max_workers=PARSERS) as pool:
        for number, ((file, _, _), parsed) in enumerate(zip(todo, _ordered(pool, parse, todo)), start=1):
            if progress:
                progress(number, len(todo), file.name)
            if isinstance(parsed, ImportFileError):
                report.failed_files[file.name] = str(parsed)
                continue
            report.files_read += 1
            if parsed.repaired:
                report.repaired_files[file.name] = parsed.repaired
            if parsed.source not in chunks:
                batches += 1
                chunks[parsed.source] = _Chunk(f"{STAGING}.batch_{batches}")
            chunk = chunks[parsed.source]
            chunk.add(con, file.name, parsed)
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


def remove_stale_scratch(root: Path | None = None) -> list[Path]:
    """Delete the scratch folders of imports whose process is no longer running; return them."""
    removed = []
    for folder in Path(root or tempfile.gettempdir()).glob(f"{SCRATCH_PREFIX}*"):
        pid = folder.name.removeprefix(SCRATCH_PREFIX).split("-", 1)[0]
        if pid.isdigit():
            stale = not process_alive(int(pid))
        else:
            stale = time.time() - folder.stat().st_mtime > OLD_SCRATCH_AGE_S
        if stale and folder.is_dir():
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed


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
