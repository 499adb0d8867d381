"""Pick the ingest source from settings and land its records through the shared loaders."""

from __future__ import annotations

from dataclasses import dataclass, field

import duckdb

from ingest.demo import generate_demo_batches
from warehouse.loaders import LoadReport, RawBatch, load_batch
from warehouse.settings import Settings


class SourceNotAvailableError(RuntimeError):
    """The configured ingest source cannot run here."""


@dataclass
class IngestResult:
    source: str
    reports: list[LoadReport] = field(default_factory=list)

    @property
    def plays_inserted(self) -> int:
        return sum(r.plays_inserted for r in self.reports)


def run_ingest(con: duckdb.DuckDBPyConnection, settings: Settings) -> IngestResult:
    """Land new plays from the configured source; `none` only records the listener."""
    source = settings.ingest_source_resolved
    if source == "demo":
        batches = generate_demo_batches(
            settings.listener_id, settings.timezone, settings.display_name,
            days=settings.demo_days, listeners=settings.demo_listeners, seed=settings.demo_seed,
        )
    elif source == "spotify":
        raise SourceNotAvailableError(
            "SPOTIFY_BRAIN_INGEST_SOURCE resolved to 'spotify', but the Spotify Web API source is "
            "not part of this build yet; set SPOTIFY_BRAIN_INGEST_SOURCE=demo or none"
        )
    else:
        batches = [RawBatch(source="settings", listener_id=settings.listener_id, listeners=[{
            "listener_id": settings.listener_id, "display_name": settings.display_name,
            "timezone": settings.timezone}])]
    return IngestResult(source=source, reports=[load_batch(con, batch) for batch in batches])
