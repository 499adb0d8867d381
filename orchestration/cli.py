"""`spotify-brain`: run the Dagster jobs in process, and the benchmark.

    spotify-brain run [--job full_retrain|refresh]
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

    with read_connection(settings.warehouse) as con:
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

    from orchestration.project import prepare_manifest

    print(f"[spotify-brain] preparing the dbt manifest ...", flush=True)
    prepare_manifest()
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="spotify-brain", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run a Dagster job in this process")
    run.add_argument("--job", choices=JOBS, default="full_retrain")
    bench = commands.add_parser("bench", help="time each stage on demo listeners and print the figures")
    bench.add_argument("--days", type=int, default=365, help="days of the 1x demo history")
    bench.add_argument("--scale", type=int, nargs="+", default=[1, 10], help="history sizes, in multiples of --days")
    bench.add_argument("--json", default="bench_results.json", help="where to write the figures as JSON")
    args = parser.parse_args(argv)

    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"spotify-brain: {exc}", file=sys.stderr)
        return 2
    if args.command == "run":
        if not run_job(args.job, settings):
            return 1
        print(_summary(settings))
        return 0
    from orchestration.benchmark import run_benchmark

    run_benchmark(days=args.days, scales=args.scale, json_path=args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
