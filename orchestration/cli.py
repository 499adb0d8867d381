"""`spotify-brain`: run the Dagster jobs in process, and the benchmark.

    spotify-brain run [--job full_retrain|refresh]
    spotify-brain ingest
    spotify-brain auth
    spotify-brain import PATH [--listener ID]
    spotify-brain bench [--days N] [--scale K ...]
"""

from __future__ import annotations

import argparse
import os
import sys
import time

from warehouse.settings import Settings, SettingsError, load_settings

JOBS = ("full_retrain", "refresh")


def _summary(settings: Settings) -> str:
    from warehouse.connection import read_connection

    with read_connection(settings.warehouse, settings.duckdb_memory_limit) as con:
        plays, sessions = con.execute(
            "select (select count(*) from marts.fct_plays where listener_id = $1),"
            "       (select count(*) from marts.fct_sessions where listener_id = $1)",
            [settings.listener_id],
        ).fetchone()
        served = con.execute(
            "select model_name, served from ml.model_runs where listener_id = ? "
            "qualify row_number() over (partition by model_name order by data_end desc, trained_at desc) = 1 "
            "order by model_name",
            [settings.listener_id],
        ).fetchall()
    models = ", ".join(f"{name}: {source}" for name, source in served) or "none trained yet"
    return (f"listener {settings.listener_id}: {plays} plays in {sessions} sessions\n"
            f"models served: {models}\nexport: {settings.export_path.resolve()}")


def run_job(job_name: str, settings: Settings) -> bool:
    """Prepare the dbt manifest, then execute a job of the code location in this process."""
    import dagster as dg

    from orchestration.project import ensure_manifest

    ensure_manifest(settings)
    from orchestration.definitions import defs  # imports need the manifest

    instance = dg.DagsterInstance.get() if os.environ.get("DAGSTER_HOME") else dg.DagsterInstance.ephemeral()
    print(f"[spotify-brain] running job {job_name} (source: {settings.ingest_source_resolved}) ...", flush=True)
    started = time.monotonic()
    result = defs.resolve_job_def(job_name).execute_in_process(
        instance=instance, raise_on_error=False,
        run_config={"loggers": {"console": {"config": {"log_level": "INFO"}}}},
    )
    for event in result.all_events:
        if event.is_step_failure:
            print(f"[spotify-brain] step {event.step_key} failed: {event.event_specific_data.error.message}",
                  file=sys.stderr)
    print(f"[spotify-brain] job {job_name} {'succeeded' if result.success else 'FAILED'} "
          f"in {time.monotonic() - started:.1f}s", flush=True)
    return result.success


def _progress(number: int, total: int, name: str) -> None:
    width = 30
    done = int(width * number / total)
    line = f"[{'#' * done}{'.' * (width - done)}] {number}/{total} {name[-60:]}"
    end = "\n" if number == total or not sys.stderr.isatty() else "\r"
    print(line.ljust(110), end=end, file=sys.stderr, flush=True)


def import_history(path: str, listener_id: str | None, settings: Settings) -> int:
    """Import a privacy export; print the report. Exit 1 if a file could not be read."""
    from pathlib import Path

    from ingest.privacy_export import import_export
    from warehouse.connection import write_connection
    from warehouse.loaders import ensure_listener
    from warehouse.schema import ensure_schema

    listener_id = listener_id or settings.listener_id
    with write_connection(settings.warehouse, settings.writer_lock_timeout_s,
                          settings.duckdb_memory_limit) as con:
        ensure_schema(con)
        ensure_listener(con, listener_id, settings.display_name, settings.timezone, "privacy_export")
        report = import_export(con, Path(path), listener_id, progress=_progress)
    print(f"listener {listener_id}: {report.files_read} files read, {report.records_read} records read")
    print(f"  plays inserted      {report.plays_inserted}")
    print(f"  duplicates skipped  {report.duplicates_skipped}")
    print(f"  records rejected    {report.records_rejected}")
    for reason, count in report.rejected_by_reason.most_common():
        print(f"    {count:>8}  {reason}")
    print(f"  set aside (podcast, audiobook, video)  {report.set_aside}")
    print(f"  account-data tracks not matched to a known track  {report.unresolved_tracks}")
    for name, why in report.skipped_files.items():
        print(f"  skipped {name}: {why}")
    for name, why in report.failed_files.items():
        print(f"  FAILED {why}", file=sys.stderr)
    return 1 if report.failed_files else 0


def ingest_now(settings: Settings) -> int:
    """Pull new plays for every configured listener now (what the refresh job's ingest asset does)."""
    from ingest.sources import IngestError, run_ingest
    from warehouse.connection import write_connection
    from warehouse.schema import ensure_schema

    try:
        with write_connection(settings.warehouse, settings.writer_lock_timeout_s,
                          settings.duckdb_memory_limit) as con:
            ensure_schema(con)
            result = run_ingest(con, settings)
    except (IngestError, SettingsError) as exc:
        print(f"spotify-brain ingest: {exc}", file=sys.stderr)
        return 1
    print(f"source {result.source}")
    for report in result.reports:
        print(f"  {report.listener_id}: {report.records_read} read, {report.plays_inserted} inserted, "
              f"{report.plays_duplicate} duplicate, {report.records_rejected} rejected, "
              f"{report.records_set_aside} set aside (run {report.ingest_run_id})")
    for event in result.events:
        print(f"  {event}")
    return 0


def auth(settings: Settings) -> int:
    from ingest.spotify_auth import authorize
    from ingest.spotify_client import SpotifyAuthError

    try:
        token = authorize(settings)
    except SpotifyAuthError as exc:
        print(f"spotify-brain auth: {exc}", file=sys.stderr)
        return 1
    print("\nYour refresh token (a secret: put it in .env or a CI secret, never in git):\n")
    print(f"SPOTIFY_REFRESH_TOKEN={token}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="spotify-brain", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run a Dagster job in this process")
    run.add_argument("--job", choices=JOBS, default="full_retrain")
    commands.add_parser("ingest", help="pull new plays for every configured listener now, and enrich them")
    commands.add_parser("auth", help="authorise with Spotify once and print the refresh token")
    importer = commands.add_parser("import", help="import Spotify privacy exports (zip, folder or files)")
    importer.add_argument("path")
    importer.add_argument("--listener", help="listener id (default: SPOTIFY_BRAIN_LISTENER_ID)")
    bench = commands.add_parser("bench", help="time each stage on demo listeners and print the figures")
    bench.add_argument("--days", type=int, default=365, help="days of the 1x demo history")
    bench.add_argument("--scale", type=int, nargs="+", default=[1, 10], help="history sizes, in multiples of --days")
    bench.add_argument("--import-records", type=int, default=1_000_000,
                       help="extended-history records for the import benchmark (0: skip it)")
    bench.add_argument("--import-listeners", type=int, default=1,
                       help="also import the generated export once per listener into one warehouse")
    bench.add_argument("--listeners", type=int, default=1, help="demo listeners, each with the full history")
    bench.add_argument("--refresh-plays", type=int, default=50, help="new plays for the timed refresh (0: skip it)")
    bench.add_argument("--json", default="bench_results.json", help="where to write the figures as JSON")
    args = parser.parse_args(argv)

    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"spotify-brain: {exc}", file=sys.stderr)
        return 2
    if args.command == "import":
        return import_history(args.path, args.listener, settings)
    if args.command == "ingest":
        return ingest_now(settings)
    if args.command == "auth":
        return auth(settings)
    if args.command == "run":
        if not run_job(args.job, settings):
            return 1
        print(_summary(settings))
        return 0
    from orchestration.benchmark import run_benchmark

    run_benchmark(days=args.days, scales=args.scale, json_path=args.json, import_records=args.import_records,
                  listeners=args.listeners, refresh_plays=args.refresh_plays, import_listeners=args.import_listeners)
    return 0


if __name__ == "__main__":
    sys.exit(main())
