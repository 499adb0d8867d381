"""Freshness of the data, the way a listener means it: are new plays still arriving? (That the
export and raw.plays are still being written is their assets' FreshnessPolicy.)"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import dagster as dg

from warehouse.connection import read_connection
from warehouse.settings import load_settings



@dg.asset_check(asset=dg.AssetKey(["raw", "plays"]), description=(
    "every listener the Spotify API source pulls for has a play newer than SPOTIFY_BRAIN_STALE_AFTER_HOURS "
    "(a dead token, a quota or a refused user stops new plays; the page would go stale quietly)"))
def plays_are_fresh() -> dg.AssetCheckResult:
    settings = load_settings()
    with read_connection(settings.warehouse, settings.duckdb_memory_limit,
                         settings.writer_lock_timeout_s) as con:
        newest = dict(con.execute("select listener_id, max(played_at) from raw.plays where source = 'spotify_api' "
                                  "group by listener_id").fetchall())
    live = [listener.listener_id for listener in settings.listeners()] if settings.has_spotify_credentials else []
    if not live:
        return dg.AssetCheckResult(passed=True, metadata={"note": "no live source configured (imports only)"})
    cutoff = datetime.now(UTC).replace(tzinfo=None) - timedelta(hours=settings.stale_after_hours)
    stale = {listener: str(newest.get(listener)) for listener in live if not newest.get(listener) or newest[listener] < cutoff}
    return dg.AssetCheckResult(passed=not stale, severity=dg.AssetCheckSeverity.WARN, metadata={
        "stale_listeners": stale, "stale_after_hours": settings.stale_after_hours})


CHECKS = [plays_are_fresh]
