"""Import Spotify's privacy exports ("Download your data") into raw.plays.

Takes the zip Spotify sends, the folder inside it, or single files. Two formats:

- Extended streaming history, `Streaming_History_Audio_*.json` and the older
  `endsong_*.json`: one record per stream, `ts` = when it ended (UTC, seconds),
  track id in `spotify_track_uri`. Podcast episodes, audiobook chapters and records that
  name nothing played (no track, episode or audiobook) are set aside;
  `Streaming_History_Video_*.json` files are set aside whole.
- Account data, `StreamingHistory_music_*.json` / `StreamingHistory*.json`: `endTime`
  to the minute, names but no track id. Such plays land with a name-based track id
  (`name:<hash of artist and track>`); dbt resolves it to a real track with the same
  name and artist once one is known (`int_plays__track_resolved`).
  `StreamingHistory_podcast_*.json` and `StreamingHistory_audiobook_*.json` are set aside whole.

Files are checked one by one: a file that cannot be read (invalid or truncated JSON, not
UTF-8, not a list of records, empty) loads nothing and is reported by name; bad records of
a readable file are rejected one by one, naming file and record. Readable files land
together, a batch (one transaction) per CHUNK_RECORDS records, so a crash mid-import
leaves whole batches behind and the next import adds the rest.
IP addresses, user agents, user names and countries are never read, so never stored.
"""

from __future__ import annotations

import hashlib
import re
import tempfile
import zipfile
import zlib
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
VIDEO = re.compile(r"^(Streaming_History_Video_.*|endvideo.*)\.json$")
# account data's podcast and audiobook files: streaming history too, set aside and counted
ACCOUNT_NOT_MUSIC = re.compile(r"^StreamingHistory_(podcast|audiobook)_.*\.json$")
ACCOUNT = re.compile(r"^StreamingHistory(_music)?_?\d*\.json$")


PARSERS = 2  # files checked at once; each staged file holds its records in memory until it lands
# Records landed per transaction: large enough that the insert is cheap per record, small
# enough that a ten-year export never sits in memory at once.
CHUNK_RECORDS = 1_000_000


class ImportFileError(ValueError):
    """A whole file could not be read; nothing of it was loaded."""


class ImportRefused(ValueError):
    """The import cannot start (nothing was written); the message says why and what to do."""


# Caps for zip members (a hostile zip can unpack to far more than it weighs): Spotify's files
# are about 10 MB each and its JSON compresses about ten to one.
MAX_MEMBER_BYTES = 1 << 30
MAX_UNPACKED_BYTES = 8 << 30      # everything one import unpacks into its scratch folder
MAX_RATIO = 100
MIN_BOMB_BYTES = 1 << 20          # below this a high ratio is harmless
GLOB = re.compile(r"[*?\[\]{}]")  # DuckDB reads these in a path as a pattern
SHOWN = 200                       # characters of a name or a value a message quotes


def _shown(text: str) -> str:
    return text if len(text) <= SHOWN else text[:SHOWN] + "..."


@dataclass
class ExportFile:
    name: str      # as shown to the user: the path, or zip!member
    kind: str      # extended | account | video | account_not_music
    path: Path     # the file, or the zip it is in
    member: zipfile.ZipInfo | None = None

    def local_path(self, scratch: Path, room: int) -> Path:
        """A path DuckDB reads as exactly this file: the file itself; a link to it under a plain
        name when its path holds glob characters; or the zip member unpacked to `scratch`, at
        most `room` bytes. Raises ImportFileError for a member that is damaged, encrypted or a bomb."""
        if self.member is None:
            if not GLOB.search(str(self.path.resolve())):
                return self.path
            scratch.symlink_to(self.path.resolve())
            return scratch
        _unpack(self.name, self.path, self.member, scratch, room)
        return scratch


def _unpack(name: str, archive_path: Path, info: zipfile.ZipInfo, target: Path, room: int) -> None:
    if info.flag_bits & 0x1:
        raise ImportFileError(f"{name}: encrypted (password-protected) zip member; unpack the zip yourself and "
                              "import the folder")
    limit = min(MAX_MEMBER_BYTES, room, max(MAX_RATIO * info.compress_size, MIN_BOMB_BYTES))
    written = 0
    try:
        with zipfile.ZipFile(archive_path) as archive, archive.open(info) as source, target.open("wb") as out:
            while chunk := source.read(1 << 20):
                written += len(chunk)
                if written > limit:
                    raise ImportFileError(
                        f"{name}: unpacks to more than {limit >> 20} MB from {info.compress_size} bytes; a zip bomb "
                        "or not a Spotify export, so it is not imported")
                out.write(chunk)
    except (zipfile.BadZipFile, zlib.error, EOFError, RuntimeError, NotImplementedError, ValueError) as exc:
        target.unlink(missing_ok=True)
        if isinstance(exc, ImportFileError):
            raise
        raise ImportFileError(f"{name}: damaged zip member ({_shown(str(exc))}); download the export again") from None


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
        lines += [f"  set aside (podcast, audiobook, video, naming no track)  {self.set_aside}",
                  f"  account-data tracks not matched to a known track  {self.unresolved_tracks}"]
        lines += [f"  skipped {name}: {why}" for name, why in self.skipped_files.items()]
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


def classify(name: str) -> str | None:
    base = name.rsplit("/", 1)[-1]
    if EXTENDED.match(base):
        return "extended"
    if VIDEO.match(base):
        return "video"
    if ACCOUNT_NOT_MUSIC.match(base):
        return "account_not_music"
    if ACCOUNT.match(base):
        return "account"
    return None


def discover(path: Path, report: "ImportReport") -> Iterator[ExportFile]:
    """Every export file under `path` (a zip, a folder, or one file), in name order. Files that
    cannot be taken are named in the report: a link out of the export folder, a damaged zip."""
    if not path.is_dir():
        yield from _discover_file(path, report)
        return
    root = path.resolve()
    for file in sorted(path.rglob("*")):
        if file.is_symlink() and not file.resolve().is_relative_to(root):
            report.failed_files[str(file)] = (f"{_shown(str(file))}: a link to a file outside the export folder "
                                              f"({_shown(str(file.resolve()))}); not read")
        elif file.is_file():
            yield from _discover_file(file, report)


def _discover_file(path: Path, report: "ImportReport") -> Iterator[ExportFile]:
    if zipfile.is_zipfile(path):
        try:
            with zipfile.ZipFile(path) as archive:
                members = sorted(archive.infolist(), key=lambda i: i.filename)
        except (zipfile.BadZipFile, OSError, ValueError) as exc:
            report.failed_files[str(path)] = f"{path}: damaged zip ({_shown(str(exc))}); download the export again"
            return
        for info in members:
            if info.is_dir():
                continue
            name = f"{path}!{_shown(info.filename)}"
            kind = classify(info.filename)
            if kind is None:
                report.skipped_files[name] = "not a streaming-history file"
            else:
                yield ExportFile(name, kind, path, info)
    elif path.suffix.lower() == ".zip" or _starts_like_a_zip(path):
        report.failed_files[str(path)] = (f"{path}: not a readable zip (cut short, perhaps by an interrupted "
                                          "download); download the export again")
    else:
        kind = classify(path.name)
        if kind is None:
            report.skipped_files[str(path)] = "not a streaming-history file"
        else:
            yield ExportFile(str(path), kind, path)


def _starts_like_a_zip(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(4) == b"PK\x03\x04"


def _diagnose(name: str, path: Path, error: Exception) -> str:
    """Why a file cannot be read as a list of records, in words that name it. Reads a few bytes
    only (the file may be large), and DuckDB's own message for the rest."""
    with path.open("rb") as handle:
        head = handle.read(4096)
    if head.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in head[:64]:
        return f"{name}: UTF-16 (or other wide) text, not UTF-8; open it in an editor and save it as UTF-8"
    first = head.lstrip()[:1]
    if not first:
        return f"{name}: empty file"
    if first != b"[" and not head.startswith(b"\xef\xbb\xbf["):
        found = {b"{": "an object", b'"': "a string"}.get(first, "something else")
        return f"{name}: expected a JSON list of records, found {found}"
    message = str(error).splitlines()[0] if str(error) else type(error).__name__
    if isinstance(error, UnicodeDecodeError) or "UTF-8" in message:
        return f"{name}: not UTF-8 text ({_shown(message.split(': ', 1)[-1])})"
    where = message.split('",', 1)[-1].strip() if '",' in message else message
    return f"{name}: invalid or truncated JSON ({_shown(where)})"


STAGING = "export_staging"  # an in-memory database beside the warehouse, shared by the parsing threads


@dataclass
class ParsedFile:
    source: str                    # extended_history | account_data
    table: str | None              # the staged, checked records (None for a file only counted)
    set_aside: int = 0             # records of a file set aside whole (videos, podcasts, audiobooks)
    records: int = 0


def parse_export_file(con: duckdb.DuckDBPyConnection, file: ExportFile, path: Path, table: str) -> ParsedFile:
    """Check one file's records into `table`; raise ImportFileError if the file as a whole is unreadable."""
    source = "account_data" if file.kind in ("account", "account_not_music") else "extended_history"
    size = path.stat().st_size
    if size == 0 or (size < 1024 and not path.read_bytes().strip()):
        raise ImportFileError(f"{file.name}: empty file")
    try:
        if file.kind in ("video", "account_not_music"):
            return ParsedFile(source, None, set_aside=count_records(con, str(path)))
        return ParsedFile(source, table, records=stage_file(con, str(path), file.kind, file.name, table))
    # DuckDB's errors, and the Python ones its messages can raise (a message quoting bytes that
    # are not UTF-8 cannot even be decoded)
    except (duckdb.Error, UnicodeError, RecursionError, ValueError) as exc:
        con.execute(f"drop table if exists {table}")
        raise ImportFileError(_diagnose(file.name, path, exc)) from None


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
    files = list(discover(path, report))
    seen = _SeenFiles()
    con.execute(f"attach if not exists ':memory:' as {STAGING}")
    try:
        with tempfile.TemporaryDirectory(prefix="spotify-brain-import-") as scratch:
            todo, room = [], MAX_UNPACKED_BYTES
            for number, file in enumerate(files, start=1):
                try:
                    local = file.local_path(Path(scratch) / f"{number}.json", room)
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
