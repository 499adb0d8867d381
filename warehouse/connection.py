"""Connections to the DuckDB warehouse file, one writer at a time.

DuckDB lets only one process open a file read-write; a second one fails at once. So
every writer first takes an exclusive lock on `<warehouse>.lock` and waits its turn
(bounded by a timeout), and readers open the file read-only.
"""

from __future__ import annotations

import fcntl
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb


class WarehouseBusyError(RuntimeError):
    """Another process held the writer lock for longer than the timeout."""


@contextmanager
def writer_lock(warehouse: Path, timeout_s: float = 600.0) -> Iterator[None]:
    """Hold the warehouse's single-writer lock (also around dbt, which opens the file itself)."""
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    lock_path = warehouse.with_name(warehouse.name + ".lock")
    with open(lock_path, "a+") as handle:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise WarehouseBusyError(
                        f"{warehouse}: another process has been writing for over {timeout_s:.0f}s "
                        f"(lock file {lock_path}); try again later"
                    ) from None
                time.sleep(0.2)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextmanager
def write_connection(warehouse: Path, timeout_s: float = 600.0,
                     memory_limit: str = "4GB") -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-write connection, under the writer lock, closed on exit."""
    with writer_lock(warehouse, timeout_s):
        con = duckdb.connect(str(warehouse), config={"memory_limit": memory_limit})
        try:
            yield con
        finally:
            con.close()


@contextmanager
def read_connection(warehouse: Path, memory_limit: str = "4GB") -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only connection; fails clearly if the warehouse has not been built yet."""
    if not warehouse.exists():
        raise FileNotFoundError(f"{warehouse}: no warehouse yet (run `spotify-brain run` first)")
    con = duckdb.connect(str(warehouse), read_only=True, config={"memory_limit": memory_limit})
    try:
        yield con
    finally:
        con.close()
