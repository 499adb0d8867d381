"""Build, validate and write a listener's dashboard export."""

from __future__ import annotations

from pathlib import Path

import duckdb

from export.build import build_dashboard
from export.write import write_export


def export_dashboard(con: duckdb.DuckDBPyConnection, listener_id: str, path: Path,
                     recently_played_limit: int = 25, status: dict | None = None) -> dict:
    data = build_dashboard(con, listener_id, recently_played_limit=recently_played_limit, status=status)
    write_export(data, path)
    return data
