"""Settings and the single-writer warehouse connection, as the assets use them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import duckdb

from warehouse.connection import write_connection
from warehouse.settings import Settings, load_settings

# every asset that writes the DuckDB file runs in this pool (limit 1 in dagster.yaml)
WAREHOUSE_POOL = "duckdb_warehouse"


@contextmanager
def settings_and_writer() -> Iterator[tuple[Settings, duckdb.DuckDBPyConnection]]:
    settings = load_settings()
    with write_connection(settings.warehouse, settings.writer_lock_timeout_s,
                          settings.duckdb_memory_limit) as con:
        yield settings, con
