"""The files of a download (Spotify's, or another service's export): which are listening history
(ingest/formats.py says), and each as a local file DuckDB can read (a zip member unpacked with
limits: a hostile zip can unpack to far more than it weighs)."""

from __future__ import annotations

import hashlib
import re
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ingest.formats import HEAD_BYTES, classify, needs_head


class ImportFileError(ValueError):
    """A whole file could not be read; nothing of it was loaded."""


# Caps for zip members (a hostile zip can unpack to far more than it weighs): Spotify's files
# are about 10 MB each and its JSON compresses about ten to one.
MAX_MEMBER_BYTES = 1 << 30
MAX_UNPACKED_BYTES = 8 << 30      # everything one import unpacks into its scratch folder
# scratch folders are $TMPDIR/spotify-brain-import-<pid>-*: a killed import leaves its folder
# behind, and the next import removes every one whose process is gone
SCRATCH_PREFIX = "spotify-brain-import-"
MAX_RATIO = 100
MIN_BOMB_BYTES = 1 << 20          # below this a high ratio is harmless
GLOB = re.compile(r"[*?\[\]{}]")  # DuckDB reads these in a path as a pattern
SHOWN = 200                       # characters of a name or a value a message quotes


def shown(text: str) -> str:
    return text if len(text) <= SHOWN else text[:SHOWN] + "..."


@dataclass
class DownloadFile:
    name: str      # as shown to the user: the path, or zip!member
    kind: str      # a key of ingest.formats.FORMATS, or video | account_not_music
    path: Path     # the file, or the zip it is in
    member: zipfile.ZipInfo | None = None

    def local_path(self, scratch: Path, room: int, archives: "Archives") -> Path:
        """A path DuckDB reads as exactly this file: the file itself; a link to it under a plain
        name when its path holds glob characters; or the zip member unpacked to `scratch`, at
        most `room` bytes. Raises ImportFileError for a member that is damaged, encrypted or a bomb."""
        if self.member is None:
            if not GLOB.search(str(self.path.resolve())):
                return self.path
            scratch.symlink_to(self.path.resolve())
            return scratch
        _unpack(self.name, archives.open(self.path), self.member, scratch, room)
        return scratch


class Archives:
    """The zips of one import, each opened once (opening one reads its whole directory: per
    member, a zip of 2,000 members took quadratic time)."""

    def __init__(self) -> None:
        self.opened: dict[Path, zipfile.ZipFile] = {}

    def open(self, path: Path) -> zipfile.ZipFile:
        if path not in self.opened:
            self.opened[path] = zipfile.ZipFile(path)
        return self.opened[path]

    def close(self) -> None:
        for archive in self.opened.values():
            archive.close()
        self.opened.clear()


def _unpack(name: str, archive: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path, room: int) -> None:
    if info.flag_bits & 0x1:
        raise ImportFileError(f"{name}: encrypted (password-protected) zip member; unpack the zip yourself and "
                              "import the folder")
    limit = min(MAX_MEMBER_BYTES, room, max(MAX_RATIO * info.compress_size, MIN_BOMB_BYTES))
    written = 0
    try:
        with archive.open(info) as source, target.open("wb") as out:
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
        raise ImportFileError(f"{name}: damaged zip member ({shown(str(exc))}); download the export again") from None


def discover(path: Path, report) -> Iterator[DownloadFile]:
    """Every listening-history file under `path` (a zip, a folder, or one file), in name order.
    Files that cannot be taken are named in the import report's `failed_files` and
    `skipped_files`: a link out of the folder, a damaged zip, a file that is not history."""
    if not path.is_dir():
        yield from _discover_file(path, report)
        return
    root = path.resolve()
    for file in sorted(path.rglob("*")):
        if file.is_symlink():
            try:
                target = file.resolve(strict=True)
            except (OSError, RuntimeError):  # a loop (a -> b -> a) or a link to nothing
                report.failed_files[str(file)] = (f"{shown(str(file))}: a link that leads nowhere (a loop, or a "
                                                  "missing file); not read")
                continue
            if not target.is_relative_to(root):
                report.failed_files[str(file)] = (f"{shown(str(file))}: a link to a file outside the export folder "
                                                  f"({shown(str(target))}); not read")
                continue
        if file.is_file():
            yield from _discover_file(file, report)


def _discover_file(path: Path, report) -> Iterator[DownloadFile]:
    if zipfile.is_zipfile(path):
        try:
            with zipfile.ZipFile(path) as archive:
                members = [(info, _kind(info.filename, lambda: _member_head(archive, info)))
                           for info in sorted(archive.infolist(), key=lambda i: i.filename) if not info.is_dir()]
        except (zipfile.BadZipFile, OSError, ValueError) as exc:
            report.failed_files[str(path)] = f"{path}: damaged zip ({shown(str(exc))}); download the export again"
            return
        for info, kind in members:
            name = f"{path}!{shown(info.filename)}"
            if kind is None:
                report.skipped_files[name] = "not a listening-history file"
            else:
                yield DownloadFile(name, kind, path, info)
    elif path.suffix.lower() == ".zip" or _starts_like_a_zip(path):
        report.failed_files[str(path)] = (f"{path}: not a readable zip (cut short, perhaps by an interrupted "
                                          "download); download the export again")
    else:
        kind = history_kind(path)
        if kind is None:
            report.skipped_files[str(path)] = "not a listening-history file"
        else:
            yield DownloadFile(str(path), kind, path)


def _kind(name: str, head) -> str | None:
    """The kind of a file from its name, reading its first bytes (`head()`) only when the name
    cannot say."""
    base = name.rsplit("/", 1)[-1]
    return classify(base, head() if needs_head(base) else b"")


def history_kind(path: Path) -> str | None:
    """The kind of a file on disk (None: not a listening-history file)."""
    return _kind(path.name, lambda: _file_head(path))


def _file_head(path: Path) -> bytes:
    with path.open("rb") as handle:
        return handle.read(HEAD_BYTES)


def _member_head(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    """The first bytes of a zip member, or none if it cannot be read (encrypted, damaged)."""
    try:
        with archive.open(info) as member:
            return member.read(HEAD_BYTES)
    except (zipfile.BadZipFile, zlib.error, EOFError, RuntimeError, NotImplementedError, ValueError):
        return b""


def _starts_like_a_zip(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(4) == b"PK\x03\x04"


class SeenFiles:
    """Files already imported in this run, compared by size first and by content hash on a tie
    (each file hashed at most once, each lookup one dictionary step)."""

    def __init__(self) -> None:
        self.by_size: dict[int, tuple[str, Path | None]] = {}  # the first of each size (None: hashed)
        self.by_hash: dict[tuple[int, str], str] = {}

    @staticmethod
    def _hash(path: Path) -> str:
        with path.open("rb") as handle:
            return hashlib.file_digest(handle, "sha256").hexdigest()

    def same_as(self, name: str, path: Path) -> str | None:
        """The name of an earlier file with the same content, or None (and this one is remembered)."""
        size = path.stat().st_size
        first = self.by_size.get(size)
        if first is None:
            self.by_size[size] = (name, path)
            return None
        first_name, first_path = first
        if first_path is not None:  # a second file of this size: the first is hashed now
            self.by_hash.setdefault((size, self._hash(first_path)), first_name)
            self.by_size[size] = (first_name, None)
        key = (size, self._hash(path))
        if key in self.by_hash:
            return self.by_hash[key]
        self.by_hash[key] = name
        return None
