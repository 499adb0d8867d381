"""Connections to the DuckDB warehouse file, one writer at a time, readers never in the way for long.

DuckDB lets one process open a file read-write, and a process that holds it read-only (a
`duckdb -readonly` session) keeps writers out too; a second opener fails at once. So:
- every writer first takes an exclusive lock on `<warehouse>.lock` (writers queue there),
  then opens the file, retrying while a reader holds it; both waits are bounded, and running
  out of time is a WarehouseBusyError that says who holds the file and what to do;
- readers open the file read-only and retry the same way while a writer holds it.
dbt runs inside the writer's process on the writer's connection (orchestration/dbt_runner.py),
so it never needs the file on its own, and a killed run leaves no child writing behind.
"""

from __future__ import annotations

import fcntl
import os
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

RETRY_EVERY_S = 0.2


class WarehouseBusyError(RuntimeError):
    """The warehouse stayed busy (another writer, or a reader holding the file) past the timeout."""


def lock_path(warehouse: Path) -> Path:
    return warehouse.with_name(warehouse.name + ".lock")


def _holder(message: str) -> str:
    """Who holds the file, from DuckDB's message ('... is held in /usr/bin/duckdb (PID 123)')."""
    found = re.search(r"held in (\S+) \(PID (\d+)\)", message)
    return f"{Path(found.group(1)).name} (PID {found.group(2)})" if found else "another process"


def process_alive(pid: int) -> bool:
    """Whether a process runs (someone else's counts): a lock or a scratch folder of a dead one is stale."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def private_folder(folder: Path) -> None:
    """Create `folder` (and parents) readable by its owner only: it holds listening history."""
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)


@contextmanager
def file_lock(path: Path, timeout_s: float, busy: str) -> Iterator[None]:
    """Hold an exclusive flock on `path`, waiting at most `timeout_s`. The kernel releases it
    when the process dies, so a killed run never leaves the warehouse locked."""
    private_folder(path.parent)
    handle = os.fdopen(os.open(path, os.O_RDWR | os.O_CREAT, 0o600), "r+")
    with handle:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise WarehouseBusyError(busy) from None
                time.sleep(RETRY_EVERY_S)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def writer_lock(warehouse: Path, timeout_s: float = 600.0):
    """The warehouse's single-writer lock, held by every step that writes it."""
    path = lock_path(warehouse)
    return file_lock(path, timeout_s, f"{warehouse}: another spotify-brain job has been writing for over "
                                   f"{timeout_s:.0f}s (lock file {path}). Wait for it to finish, or raise "
                                      "SPOTIFY_BRAIN_WRITER_LOCK_TIMEOUT.")


def job_lock(warehouse: Path, timeout_s: float = 600.0):
    """Held by `spotify-brain run` and `import` for their whole run, so two of them queue instead
    of interleaving their steps (runs launched from `make dev` queue in Dagster's run queue)."""
    path = warehouse.with_name(warehouse.name + ".job.lock")
    return file_lock(path, timeout_s, f"{warehouse}: another spotify-brain run has been going for over "
                                   f"{timeout_s:.0f}s (lock file {path}). Wait for it to finish, or raise "
                                      "SPOTIFY_BRAIN_WRITER_LOCK_TIMEOUT.")


def _connect(warehouse: Path, read_only: bool, timeout_s: float) -> duckdb.DuckDBPyConnection:
    """Open the file, waiting (bounded) while another process holds it the other way."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return duckdb.connect(str(warehouse), read_only=read_only)
        except duckdb.IOException as exc:
            if "lock" not in str(exc).lower():
                raise
            if time.monotonic() > deadline:
                holder = _holder(str(exc))
                if read_only:
                    raise WarehouseBusyError(
                        f"{warehouse}: {holder} holds it read-write (waited {timeout_s:.0f}s). If that is a "
                        "spotify-brain job, read again when it is done; a `duckdb` shell or a notebook opened "
                        "without -readonly keeps everyone else out until it is closed.") from None
                raise WarehouseBusyError(
                    f"{warehouse}: {holder} has held the file for over {timeout_s:.0f}s, so this job "
                    "cannot write it. Close that session (a `duckdb` shell, a notebook), or open it with "
                    "`duckdb -readonly` and only for a query at a time, then run the job again.") from None
            time.sleep(RETRY_EVERY_S)


def _configure(con: duckdb.DuckDBPyConnection, memory_limit: str) -> duckdb.DuckDBPyConnection:
    # set, not passed as connect config: dbt-duckdb opens the same file in this process with
    # an empty config, and DuckDB shares one database only between identical configs
    con.execute(f"set memory_limit = '{memory_limit}'")
    return con


@contextmanager
def write_connection(warehouse: Path, timeout_s: float = 600.0,
                     memory_limit: str = "4GB") -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-write connection, under the writer lock, closed on exit. The file is created
    readable by its owner only."""
    with writer_lock(warehouse, timeout_s):
        new = not warehouse.exists()
        con = _configure(_connect(warehouse, False, timeout_s), memory_limit)
        if new:
            con.execute("checkpoint")
            warehouse.chmod(0o600)
        try:
            yield con
        finally:
            con.close()


@contextmanager
def read_connection(warehouse: Path, memory_limit: str = "4GB",
                    timeout_s: float = 60.0) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only connection; waits (bounded) while a job writes; clear error if there is no warehouse."""
    if not warehouse.exists():
        raise FileNotFoundError(f"{warehouse}: no warehouse yet (run `spotify-brain run` first)")
    con = _configure(_connect(warehouse, True, timeout_s), memory_limit)
    try:
        yield con
    finally:
        con.close()
