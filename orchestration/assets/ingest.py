"""The raw landing tables, filled from the source SPOTIFY_BRAIN_INGEST_SOURCE selects."""


import dagster as dg

from ingest.sources import run_ingest
from orchestration.resources import WAREHOUSE_POOL, settings_and_writer
from warehouse.schema import ensure_schema

RAW_TABLES = ("plays", "tracks", "artists", "audio_features", "feature_lookups", "listeners", "ingest_runs",
              "rejected_records")


@dg.multi_asset(
    specs=[dg.AssetSpec(["raw", table], group_name="ingest", kinds={"python", "duckdb"}) for table in RAW_TABLES],
    pool=WAREHOUSE_POOL,
)
def raw_tables(context: dg.AssetExecutionContext):
    """Pull new plays (demo listener, Spotify API, or nothing) and land them in raw.*."""
    with settings_and_writer() as (settings, con):
        ensure_schema(con)
        result = run_ingest(con, settings)
        counts = {t: con.execute(f"select count(*) from raw.{t}").fetchone()[0] for t in RAW_TABLES}
    context.log.info(f"ingest source {result.source}: {result.plays_inserted} new plays")
    for event in result.events:
        context.log.info(event)
    for table in RAW_TABLES:
        metadata = {"dagster/row_count": counts[table], "source": result.source}
        if table == "plays":
            metadata |= {
                "plays_inserted": result.plays_inserted,
                "plays_duplicate": sum(r.plays_duplicate for r in result.reports),
                "records_rejected": sum(r.records_rejected for r in result.reports),
                "ingest_runs": [r.ingest_run_id for r in result.reports],
                "events": result.events[:50],
            }
        if table == "audio_features" and result.tracks_without_features is not None:
            metadata["tracks_without_features"] = result.tracks_without_features
        yield dg.MaterializeResult(asset_key=["raw", table], metadata=metadata)
