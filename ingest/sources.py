"""The dispatcher: pick the ingest source from settings and land its records through the shared
loaders. It depends on the sources (ingest/spotify, ingest/demo), never the reverse.

`auto` means the Spotify API when the three Spotify credentials are set; without them, the
demo listener, but only into a warehouse that holds no other history: once real plays have
been imported, `auto` adds nothing (it never mixes generated plays into someone's history).
"""

from __future__ import annotations

import duckdb

from ingest.demo.catalog import build_catalog

from ingest.demo.generator import iter_demo_batches

from ingest.demo.truth import Truth, save_truth, truth_path
from ingest.results import IngestResult
from ingest.spotify.source import ingest_from_spotify
from warehouse.loaders import RawBatch, load_batch
from warehouse.settings import Settings


def resolve_source(con: duckdb.DuckDBPyConnection, settings: Settings) -> str:
    """The source this run pulls from: spotify, demo or none."""
    if settings.ingest_source != "auto":
        return settings.ingest_source
    if settings.has_spotify_credentials:
        return "spotify"
    other = con.execute("select count(*) from (select 1 from raw.plays where source <> 'demo' limit 1)").fetchone()[0]
    return "none" if other else "demo"


def run_ingest(con: duckdb.DuckDBPyConnection, settings: Settings) -> IngestResult:
    """Land new plays from the configured source; `none` only records the listener."""
    source = resolve_source(con, settings)
    if source == "spotify":
        return ingest_from_spotify(con, settings)
    if source == "demo":
        truths: dict[str, Truth] = {}
        batches = iter_demo_batches(
            settings.listener_id, settings.timezone, settings.display_name, days=settings.demo_days,
            listeners=settings.demo_listeners, seed=settings.demo_seed, profile=settings.demo_profile, truths=truths,
        )
        reports = [load_batch(con, batch) for batch in batches]
        _keep_truths(truths, reports, settings)
        return IngestResult(source=source, reports=reports)
    else:
        batches = [RawBatch(source="settings", listener_id=settings.listener_id, listeners=[{
            "listener_id": settings.listener_id, "display_name": settings.display_name,
            "timezone": settings.timezone}])]
    return IngestResult(source=source, reports=[load_batch(con, batch) for batch in batches])


def _keep_truths(truths: dict, reports: list, settings: Settings) -> None:
    """The demo generator's truth per listener (rule 9 of ingest/demo), for measuring the
    models against the best possible; written again only when the plays it describes changed."""
    catalog = None
    for report in reports:
        path = truth_path(settings.data_dir, report.listener_id)
        if report.plays_inserted or not path.exists():
            catalog = catalog or build_catalog(settings.demo_seed)
            save_truth(truths[report.listener_id], catalog, path)
