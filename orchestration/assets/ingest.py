"""The raw landing tables: plays from the configured source (or a privacy export), then enrichment."""

from datetime import timedelta

import dagster as dg
from pydantic import Field

from warehouse.coverage import coverage_rows
from ingest.enrichment.run import NO_APP, enrich
from ingest.spotify_download.importer import import_for_listener
from ingest.sources import run_ingest
from orchestration.resources import settings_and_writer
from warehouse.schema import ensure_schema

INGEST_TABLES = {
    "plays": "One row per play as a source reported it (UTC end time, ms played, skip flags).",
    "tracks": "Tracks seen in plays: name, album, cover, artists (filled in by enrichment for imports).",
    "listeners": "Each listener with display name and IANA timezone.",
    "ingest_runs": "One row per ingest batch: counts, the API cursor before and after, outcome, faults handled.",
    "rejected_records": "Records that could not land, with file or item, record number and reason.",
}
ENRICHMENT_TABLES = {
    "artists": "Artists with their Spotify genres (null until looked up).",
    "audio_features": "Audio features per track from the configured provider.",
    "feature_lookups": "Every track an audio-feature provider was asked about, and whether it knew it.",
    "catalog_lookups": "Tracks and artists Spotify did not know, so they are not asked again.",
    "recordings": "MusicBrainz recordings ListenBrainz matched the tracks to: release, year, cover art, genres.",
    "artist_genres": "MusicBrainz genres of each artist, with their votes.",
    "track_links": "Spotify ids ListenBrainz Labs found for name-only (account data) tracks.",
    "metadata_lookups": "Every track a keyless provider was asked about, found or not.",
    "enrichment_runs": "One row per enrichment run: Spotify calls against the daily budget, what each provider did.",
}
IMPORT_CHECK = dg.AssetCheckSpec(
    "import_files_readable", asset=["raw", "plays"],
    description="every file of an imported privacy export could be read (a bad file is named; the rest lands)")


class IngestConfig(dg.Config):
    """Empty for a scheduled pull from SPOTIFY_BRAIN_INGEST_SOURCE; with `path`, import a privacy export."""

    path: str = Field("", description="a privacy export to import: the zip, its folder, or single files")
    listener_id: str = Field("", description="whose history it is (default: SPOTIFY_BRAIN_LISTENER_ID)")
    display_name: str = Field("", description="a new listener's display name")
    timezone: str = Field("", description="a new listener's IANA timezone")


# the refresh schedule runs the ingest every 30 minutes: an hour without one means it stopped
INGEST_FRESHNESS = dg.FreshnessPolicy.time_window(warn_window=timedelta(hours=1), fail_window=timedelta(hours=6))


def _specs(tables: dict[str, str], group: str, deps=()) -> list[dg.AssetSpec]:
    return [dg.AssetSpec(["raw", name], description=text, group_name=group, kinds={"python", "duckdb"}, deps=deps,
                         freshness_policy=INGEST_FRESHNESS if name == "plays" else None)
            for name, text in tables.items()]


@dg.multi_asset(specs=_specs(INGEST_TABLES, "ingest"), check_specs=[IMPORT_CHECK],
                name="ingest")
def ingest_plays(context: dg.AssetExecutionContext, config: IngestConfig):
    """Pull new plays (Spotify API, demo listener or nothing), or import a privacy export, into raw.*."""
    with settings_and_writer() as (settings, con):
        ensure_schema(con)
        if config.path:
            report = import_for_listener(con, settings, config.path, config.listener_id or settings.listener_id,
                                         config.display_name, config.timezone,
                                         progress=lambda n, total, name: context.log.info(f"import {n}/{total}: {name}"))
            counts, events, source = report.as_metadata(), report.lines(), "privacy_export"
        else:
            result = run_ingest(con, settings)
            counts = {"plays_inserted": result.plays_inserted,
                      "plays_duplicate": sum(r.plays_duplicate for r in result.reports),
                      "plays_folded": sum(r.plays_folded for r in result.reports),
                      "records_rejected": sum(r.records_rejected for r in result.reports),
                      "ingest_runs": [r.ingest_run_id for r in result.reports]}
            events, source, report = result.events, result.source, None
        rows = {t: con.execute(f"select count(*) from raw.{t}").fetchone()[0] for t in INGEST_TABLES}
    for line in events:
        context.log.info(line)
    for table in INGEST_TABLES:
        metadata = {"dagster/row_count": rows[table], "source": source}
        if table == "plays":
            metadata |= {**counts, "events": events[:50]}
        yield dg.MaterializeResult(asset_key=["raw", table], metadata=metadata)
    failed = report.failed_files if report else {}
    nothing = report is not None and report.files_read == 0 and not failed  # no streaming history in it at all
    yield dg.AssetCheckResult(check_name="import_files_readable", asset_key=["raw", "plays"],
                              passed=not failed and not nothing,
                              metadata={"failed_files": [f"{name}: {why}" for name, why in failed.items()][:50],
                                        "import": bool(config.path), "nothing_to_import": nothing})


@dg.multi_asset(specs=_specs(ENRICHMENT_TABLES, "ingest", deps=[["raw", "plays"], ["raw", "tracks"]]), name="enrichment")
def enrichment(context: dg.AssetExecutionContext):
    """Artists, genres and audio features for every track that lacks them, whatever the source;
    Spotify calls budgeted per run, most-played tracks first; coverage per listener."""
    with settings_and_writer() as (settings, con):
        ensure_schema(con)
        report = enrich(con, settings)
        rows = {t: con.execute(f"select count(*) from raw.{t}").fetchone()[0] for t in ENRICHMENT_TABLES}
        coverage = coverage_rows(con)
    context.log.info(f"enrichment: {report.summary()}")
    for why in report.unreachable():
        context.log.warning(why)
    if report.stopped and report.stopped != NO_APP:
        context.log.info(f"enrichment stopped early: {report.stopped}")
    for table in ENRICHMENT_TABLES:
        metadata = {"dagster/row_count": rows[table]}
        if table == "audio_features":
            metadata |= {
                "tracks_resolved": report.tracks_resolved, "artists_fetched": report.artists_fetched,
                "features_found": report.features_found, "spotify_calls": report.spotify_calls,
                "tracks_without_features": report.tracks_without_features,
                "tracks_without_artists": report.tracks_without_artists,
                "artists_without_genres": report.artists_without_genres,
                "stopped": report.stopped or "no", "events": report.events[:50],
                "providers": [p.line() for p in report.providers.values()],
                "unreachable": report.unreachable(),
                **coverage_metadata(coverage),
            }
        yield dg.MaterializeResult(asset_key=["raw", table], metadata=metadata)


def coverage_metadata(rows: list[dict]) -> dict:
    """Numeric metadata per listener (plotted across runs in the UI), and a table."""
    if not rows:
        return {"coverage": "appears after the first dbt build"}
    metadata = {}
    for row in rows:
        for key in ("plays_with_features_share", "time_with_features_share", "plays_with_genres_share",
                    "time_with_genres_share"):
            metadata[f"{row['listener_id']}/{key}"] = dg.MetadataValue.float(float(row[key] or 0.0))
    header = "| listener | plays | with features (plays / time) | with genres (plays / time) |\n|---|---|---|---|\n"
    metadata["coverage"] = dg.MetadataValue.md(header + "\n".join(
        f"| {r['listener_id']} | {r['plays']} | {r['plays_with_features_share']:.0%} / {r['time_with_features_share']:.0%}"
        f" | {r['plays_with_genres_share']:.0%} / {r['time_with_genres_share']:.0%} |" for r in rows))
    return metadata
