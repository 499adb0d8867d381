"""Coverage: what share of each listener's plays and listening time the enrichment has reached
(marts.listener_coverage), read by the enrichment step's metadata and by the export alike."""

from __future__ import annotations

import duckdb


def coverage_rows(con: duckdb.DuckDBPyConnection, listener_id: str | None = None) -> list[dict]:
    """marts.listener_coverage per listener (all, or one); [] before dbt first built it."""
    built = con.execute("select count(*) from information_schema.tables where table_schema = 'marts' "
                        "and table_name = 'listener_coverage'").fetchone()[0]
    if not built:
        return []
    cursor = con.execute("select * from marts.listener_coverage where listener_id = coalesce(?, listener_id) "
                         "order by listener_id", [listener_id])
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row)) for row in cursor.fetchall()]
