"""Settings and the single-writer warehouse connection, as the assets use them.

Steps that write the DuckDB file take the warehouse's writer lock (a file lock the kernel frees
when a process dies), not a Dagster concurrency pool: a pool slot held by a killed run stays
held until something marks that run failed, and every later run would wait for it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import duckdb

from warehouse.connection import write_connection
from warehouse.settings import Settings, load_settings


@contextmanager
def settings_and_writer() -> Iterator[tuple[Settings, duckdb.DuckDBPyConnection]]:
    settings = load_settings()
    with write_connection(settings.warehouse, settings.writer_lock_timeout_s,
                          settings.duckdb_memory_limit) as con:
        yield settings, con
