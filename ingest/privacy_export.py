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

Each file lands as one batch (one transaction): a file that cannot be read (invalid or
truncated JSON, not UTF-8, not a list of records, empty) loads nothing and is reported by
name; bad records of a readable file are rejected one by one, naming file and record.
IP addresses, user agents, user names and countries are never stored.
"""

from __future__ import annotations

import hashlib
import json
import re
import zipfile
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from pathlib import Path

import duckdb

from warehouse.loaders import LoadReport, RawBatch, load_batch

EXTENDED = re.compile(r"^(Streaming_History_Audio_.*|endsong_.*)\.json$")
VIDEO = re.compile(r"^Streaming_History_Video_.*\.json$")
ACCOUNT_PODCAST = re.compile(r"^StreamingHistory_podcast_.*\.json$")
ACCOUNT = re.compile(r"^StreamingHistory(_music)?_?\d*\.json$")
PRIVATE_FIELDS = ("ip_addr", "ip_addr_decrypted", "user_agent_decrypted", "username", "conn_country")
TRACK_URI = re.compile(r"^spotify:track:([0-9A-Za-z]{22})$")


class ImportFileError(ValueError):
    """A whole file could not be read; nothing of it was loaded."""


@dataclass
class ExportFile:
    name: str      # as shown to the user: the path, or zip!member
    kind: str      # extended | account | video | podcast
    read: Callable[[], bytes]


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

    def add(self, load: LoadReport, reasons: Counter) -> None:
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
                    yield ExportFile(name, kind, partial(_read_member, path, info.filename))
    elif path.exists():
        kind = classify(path.name)
        if kind is None:
            skipped[str(path)] = "not a streaming-history file"
        else:
            yield ExportFile(str(path), kind, path.read_bytes)
    else:
        raise FileNotFoundError(f"{path}: no such file or folder")


def _read_member(archive_path: Path, member: str) -> bytes:
    with zipfile.ZipFile(archive_path) as archive:
        return archive.read(member)


def _records(file: ExportFile, data: bytes) -> list:
    if not data.strip():
        raise ImportFileError(f"{file.name}: empty file")
    try:
        records = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ImportFileError(f"{file.name}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise ImportFileError(f"{file.name}: invalid or truncated JSON at line {exc.lineno}, "
                              f"column {exc.colno}: {exc.msg}") from None
    if not isinstance(records, list):
        raise ImportFileError(f"{file.name}: expected a JSON list of records, found {type(records).__name__}")
    return records


def _payload(record) -> str:
    if isinstance(record, dict):
        record = {k: v for k, v in record.items() if k not in PRIVATE_FIELDS}
    return json.dumps(record, ensure_ascii=False, default=str)[:2000]


def name_track_id(artist: str, track: str) -> str:
    """Track id of an account-data play, from its names (resolved to a real id in dbt)."""
    key = f"{artist.strip().lower()}\x1f{track.strip().lower()}".encode()
    return "name:" + hashlib.sha256(key).hexdigest()[:22]


def _int(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} is not a non-negative integer: {value!r}")
    return value


def _optional(record: dict, name: str, kind: type):
    value = record.get(name)
    if value is not None and not isinstance(value, kind):
        raise ValueError(f"{name} has type {type(value).__name__}, expected {kind.__name__}")
    return value


def parse_extended(record: dict, listener_id: str) -> tuple[dict, dict] | None:
    """(play, track) of one extended-history record; None for a podcast episode or audiobook."""
    uri = _optional(record, "spotify_track_uri", str)
    if uri is None:
        if record.get("spotify_episode_uri") or record.get("episode_name") or record.get("audiobook_uri") \
                or record.get("audiobook_title"):
            return None
        raise ValueError("no spotify_track_uri and not a podcast or audiobook")
    match = TRACK_URI.match(uri)
    if not match:
        raise ValueError(f"spotify_track_uri is not a track URI: {uri!r}")
    ts = _optional(record, "ts", str)
    if ts is None:
        raise ValueError("ts is missing")
    try:
        played_at = datetime.strptime(ts, "%Y-%m-%dT%H:%M:%SZ")
    except ValueError:
        raise ValueError(f"ts is not an ISO UTC time like 2024-01-31T18:04:05Z: {ts!r}") from None
    track_id = match.group(1)
    artist = _optional(record, "master_metadata_album_artist_name", str)
    play = {
        "listener_id": listener_id, "track_id": track_id, "played_at": played_at,
        "ms_played": _int(record.get("ms_played"), "ms_played"),
        "skipped": _optional(record, "skipped", bool),
        "reason_start": _optional(record, "reason_start", str), "reason_end": _optional(record, "reason_end", str),
        "shuffle": _optional(record, "shuffle", bool), "context_uri": None,
        "platform": _optional(record, "platform", str),
    }
    track = {"track_id": track_id, "track_name": _optional(record, "master_metadata_track_name", str),
             "album_name": _optional(record, "master_metadata_album_album_name", str),
             "artist_names": [artist] if artist else None}
    return play, track


def parse_account(record: dict, listener_id: str) -> tuple[dict, dict]:
    artist, name = _optional(record, "artistName", str), _optional(record, "trackName", str)
    if not artist or not name:
        raise ValueError("artistName or trackName is missing")
    end = _optional(record, "endTime", str)
    try:
        played_at = datetime.strptime(end or "", "%Y-%m-%d %H:%M")
    except ValueError:
        raise ValueError(f"endTime is not like 2024-01-31 18:04: {end!r}") from None
    track_id = name_track_id(artist, name)
    play = {"listener_id": listener_id, "track_id": track_id, "played_at": played_at,
            "ms_played": _int(record.get("msPlayed"), "msPlayed"), "skipped": None, "reason_start": None,
            "reason_end": None, "shuffle": None, "context_uri": None, "platform": None}
    return play, {"track_id": track_id, "track_name": name, "artist_names": [artist]}


SOURCES = {"extended": ("extended_history", parse_extended), "account": ("account_data", parse_account)}


def file_batch(file: ExportFile, data: bytes, listener_id: str) -> tuple[RawBatch, Counter]:
    """Parse one file into a batch; raise ImportFileError if the file as a whole is unreadable."""
    records = _records(file, data)
    if file.kind in ("video", "podcast"):
        return RawBatch(source="extended_history" if file.kind == "video" else "account_data",
                        listener_id=listener_id, set_aside=len(records)), Counter()
    source, parse = SOURCES[file.kind]
    batch, reasons, tracks = RawBatch(source=source, listener_id=listener_id), Counter(), {}
    for index, record in enumerate(records):
        try:
            if not isinstance(record, dict):
                raise ValueError(f"record is a {type(record).__name__}, not an object")
            parsed = parse(record, listener_id)
        except ValueError as exc:
            reason = str(exc)
            batch.rejected.append({"record_ref": f"{file.name} record #{index}", "reason": reason,
                                   "payload": _payload(record)})
            reasons[reason.split(":")[0]] += 1
            continue
        if parsed is None:
            batch.set_aside += 1
            continue
        play, track = parsed
        batch.plays.append(play)
        tracks.setdefault(track["track_id"], track)
    batch.tracks = list(tracks.values())
    return batch, reasons


def import_export(con: duckdb.DuckDBPyConnection, path: Path, listener_id: str,
                  progress: Callable[[int, int, str], None] | None = None) -> ImportReport:
    """Land every play of an export for one listener; duplicate files and re-imports add nothing."""
    report = ImportReport()
    files = list(discover(path, report.skipped_files))
    seen: dict[str, str] = {}
    for number, file in enumerate(files, start=1):
        if progress:
            progress(number, len(files), file.name)
        data = file.read()
        digest = hashlib.sha256(data).hexdigest()
        if digest in seen:
            report.skipped_files[file.name] = f"same content as {seen[digest]}"
            continue
        seen[digest] = file.name
        try:
            batch, reasons = file_batch(file, data, listener_id)
        except ImportFileError as exc:
            report.failed_files[file.name] = str(exc)
            continue
        report.files_read += 1
        report.add(load_batch(con, batch), reasons)
    report.unresolved_tracks = unresolved_name_tracks(con, listener_id)
    return report


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
