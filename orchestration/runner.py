"""Running the jobs: the Dagster instance the commands record into, one job run in this process,
and the per-listener runs a shared run calls for (the CLI and the sensors fan out alike)."""

from __future__ import annotations

import os
import sqlite3
import sys
import time
from contextlib import closing
from pathlib import Path

from warehouse.settings import Settings

PID_TAG = "spotify_brain/pid"  # the process that runs a job in process, to tell a killed one
DEFAULT_DAGSTER_HOME = Path("data/dagster_home")
INSTANCE_CONFIG = Path(__file__).resolve().parent / "dagster.yaml"


def say(line: str) -> None:
    print(f"[spotify-brain] {line}", file=sys.stderr, flush=True)


def dagster_instance():
    """The instance `make dev` opens: DAGSTER_HOME, or data/dagster_home. Use it in a `with`: its
    storages keep database connections open until it is disposed."""
    import dagster as dg

    os.environ.setdefault("DAGSTER_HOME", str(DEFAULT_DAGSTER_HOME.resolve()))
    home = Path(os.environ["DAGSTER_HOME"])
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    # Dagster creates its SQLite tables when the instance opens them: two commands starting together
    # on a new home both did (one crashed, and could leave a version table with two heads)
    with _home_lock(home):
        prepare_home(home)
        repair_version_tables(home)
        instance = dg.DagsterInstance.get()
        _fail_orphaned_runs(instance)
    return instance


# Dagster's own SQLite files, each with an alembic version table (the per-run files are made one
# run at a time, by the run's process)
VERSIONED = ("history/runs.db", "history/runs/index.db", "schedules/schedules.db")


HOME_LOCK_TIMEOUT_S = 120  # opening a home takes about a second; a holder this long is hung


def _home_lock(home: Path):
    from warehouse.connection import file_lock

    path = home / ".spotify-brain-open.lock"
    return file_lock(path, HOME_LOCK_TIMEOUT_S, f"{home}: another spotify-brain command has been opening this "
                                                f"Dagster home for over {HOME_LOCK_TIMEOUT_S}s (lock file {path}); "
                                                "if none is running, run again")


def repair_version_tables(home: Path) -> list[str]:
    """A version table stamped twice (the newest revision and an older one, by two processes that
    raced to create the file) keeps the newest only: the tables were created whole, and Dagster
    refuses to open the file otherwise ("more than one head"). Returns the files repaired."""
    repaired, head = [], None
    for relative in VERSIONED:
        path = home / relative
        if not path.exists():
            continue
        with closing(sqlite3.connect(path)) as con:
            try:
                versions = {version for (version,) in con.execute("select version_num from alembic_version")}
            except sqlite3.Error:
                continue
            if len(versions) < 2:
                continue
            head = head or _dagster_schema_head()
            if head in versions:
                con.execute("delete from alembic_version where version_num <> ?", [head])
                con.commit()
                repaired.append(relative)
    return repaired


def _dagster_schema_head() -> str:
    import dagster
    from alembic.script import ScriptDirectory

    # the migrations Dagster's SQLite storages are stamped from (alembic is a Dagster dependency)
    return ScriptDirectory(str(Path(dagster.__file__).parent / "_core" / "storage" / "alembic")).get_current_head()


def prepare_home(home: Path) -> None:
    """A Dagster home with the project's instance configuration (one run at a time, the pooled
    SQLite storages, retention): a new home gets a copy; one that has its own is left alone."""
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    config = home / "dagster.yaml"
    if not config.exists():
        scratch = config.with_suffix(".partial")
        scratch.write_text(INSTANCE_CONFIG.read_text())
        scratch.replace(config)


def _fail_orphaned_runs(instance) -> None:
    """Runs this command started in a process that was killed stay 'started' for ever in the UI;
    mark them failed (a run launched by `make dev` is watched by its own daemon)."""
    import dagster as dg

    from warehouse.connection import process_alive

    for record in instance.get_run_records(filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED])):
        pid = record.dagster_run.tags.get(PID_TAG)
        if pid and not process_alive(int(pid)):
            instance.report_run_failed(record.dagster_run, "the spotify-brain process running it ended without "
                                                           "finishing it (killed?)")


def execute(job_name: str, instance, settings: Settings, partition_key: str | None = None,
             run_config: dict | None = None):
    """One job run in this process; its outcome is recorded where the export can show it."""
    from orchestration.definitions import defs
    from orchestration.progress import RUN_CONFIG, step_error
    from orchestration.status import record_failure, record_success

    result = defs.resolve_job_def(job_name).execute_in_process(
        instance=instance, raise_on_error=False, partition_key=partition_key,
        run_config={**RUN_CONFIG, **(run_config or {})}, tags={PID_TAG: str(os.getpid())})
    if result.success:
        record_success(settings, job_name, partition_key, result.run_id)
    else:
        failures = [e for e in result.all_events if e.is_step_failure]
        step = failures[0].step_key if failures else None
        error = step_error(failures[0]) if failures else "the run failed"
        record_failure(settings, job_name, partition_key, step, error, result.run_id)
    return result


def listeners_to_run(instance, shared_job: str, settings: Settings) -> list[str]:
    """After a shared run: the listeners whose per-listener run it calls for (after a full retrain
    everyone, after a refresh those with news); every listener is made a partition first."""
    from orchestration.listeners import listener_ids, listeners_to_update, sync_partitions
    from warehouse.connection import read_connection

    with read_connection(settings.warehouse, settings.duckdb_memory_limit,
                         settings.writer_lock_timeout_s) as con:
        everyone, wanted = listener_ids(con), listeners_to_update(con, shared_job, settings)
    sync_partitions(instance, everyone)
    return wanted


def run_job(job_name: str, settings: Settings) -> bool:
    """The shared job, then the per-listener runs it calls for (each its own run: one listener's
    failure does not stop the others). True when every run succeeded."""
    from orchestration.project import ensure_manifest

    ensure_manifest(settings)
    from orchestration.heap import loaded
    from orchestration.jobs import SHARED_JOBS
    from orchestration.sensors import prune_runs
    from warehouse.connection import job_lock

    loaded()  # Dagster and the definitions
    shared, per_listener = SHARED_JOBS[job_name]
    started = time.monotonic()
    with dagster_instance() as instance, job_lock(settings.warehouse, settings.writer_lock_timeout_s):
        say(f"running {job_name} (runs recorded in {os.environ['DAGSTER_HOME']}) ...")
        ok = execute(shared.name, instance, settings).success
        if ok:
            for listener in listeners_to_run(instance, job_name, settings):
                if not execute(per_listener.name, instance, settings, partition_key=listener).success:
                    say(f"{per_listener.name} failed for listener {listener}; the other listeners go on")
                    ok = False
        prune_runs(instance, settings.keep_runs_days, settings.keep_refresh_runs_days)
    say(f"{job_name} {'succeeded' if ok else 'FAILED'} in {time.monotonic() - started:.1f}s")
    return ok
