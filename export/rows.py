"""What every section of the dashboard reads with: rows as dicts, local ISO times, rounded numbers."""

from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import duckdb


def fetch_rows(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> list[dict]:
    cursor = con.execute(sql, params or [])
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row)) for row in cursor.fetchall()]


def local_iso(ts_utc: datetime | None, tz: ZoneInfo) -> str | None:
    """A naive-UTC timestamp as ISO 8601 with the listener's offset."""
    if ts_utc is None:
        return None
    return ts_utc.replace(tzinfo=timezone.utc).astimezone(tz).isoformat(timespec="seconds")


def rounded(value, digits: int = 4):
    return None if value is None else round(float(value), digits)


def table_exists(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    return con.execute("select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
                       [schema, table]).fetchone()[0] > 0
