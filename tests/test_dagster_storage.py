"""The Dagster instance of dagster.yaml: Dagster's own SQLite files, connections kept open, and a
pruned run leaves nothing of itself on disk (48 refreshes a day are 96 runs)."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from orchestration.runner import dagster_instance
from orchestration.dagster_storage import PooledSqliteEventLogStorage, PooledSqliteRunStorage
from orchestration.sensors import prune_runs


@dg.asset
def counted() -> dg.MaterializeResult:
    return dg.MaterializeResult(metadata={"rows": 3})


@dg.asset_check(asset=counted)
def counted_has_rows() -> dg.AssetCheckResult:
    return dg.AssetCheckResult(passed=True)


def _run(instance) -> str:
    return dg.materialize([counted, counted_has_rows], instance=instance).run_id


def test_runs_and_events_land_in_dagster_s_own_files_and_another_instance_reads_them(env: Path):
    with dagster_instance() as instance:
        assert isinstance(instance.run_storage, PooledSqliteRunStorage)
        assert isinstance(instance.event_log_storage, PooledSqliteEventLogStorage)
        run_ids = [_run(instance) for _ in range(6)]  # more runs than the open run files
    history = env / "dagster_home" / "history"
    assert (history / "runs.db").exists() and (history / "runs" / "index.db").exists()
    assert all((history / "runs" / f"{run_id}.db").exists() for run_id in run_ids)
    # what the UI does: a fresh instance on the same home sees every run and its materialization
    with dg.DagsterInstance.get() as reader:
        assert {r.dagster_run.run_id for r in reader.get_run_records()} == set(run_ids)
        latest = reader.get_latest_materialization_event(dg.AssetKey("counted"))
        assert latest.run_id == run_ids[-1]
        assert latest.asset_materialization.metadata["rows"].value == 3
        assert any(e.dagster_event and e.dagster_event.is_step_success for e in reader.all_logs(run_ids[0]))


def test_a_run_s_new_file_uses_small_pages_and_the_index_keeps_sqlite_s_default(env: Path):
    """Dagster makes a file per run with about 25 tables and indexes, each at least a page: for
    the small runs of the schedule the page size is a good part of the file."""
    import sqlite3

    with dagster_instance() as instance:
        run_id = _run(instance)
    runs = env / "dagster_home" / "history" / "runs"

    def page_bytes(path: Path) -> int:
        with sqlite3.connect(path) as con:
            return con.execute("pragma page_size").fetchone()[0]

    assert page_bytes(runs / f"{run_id}.db") == 1024
    assert page_bytes(runs / "index.db") == 4096
    with dg.DagsterInstance.get() as reader:  # and it reads as any other run
        assert any(e.dagster_event and e.dagster_event.is_step_success for e in reader.all_logs(run_id))


def test_a_pruned_run_leaves_no_file_and_the_kept_ones_stay_readable(env: Path):
    with dagster_instance() as instance:
        old = [_run(instance) for _ in range(3)]
        assert prune_runs(instance, keep_days=-1) == 3  # everything is older than tomorrow
        kept = _run(instance)
    runs = env / "dagster_home" / "history" / "runs"
    assert not [path.name for path in runs.iterdir() if path.name.startswith(tuple(old))]
    with dg.DagsterInstance.get() as reader:
        assert [r.dagster_run.run_id for r in reader.get_run_records()] == [kept]
        assert reader.get_latest_materialization_event(dg.AssetKey("counted")).run_id == kept
        # a dbt test is an asset check: its results went with the run (Dagster's delete kept them)
        history = reader.event_log_storage.get_asset_check_execution_history(
            dg.AssetCheckKey(dg.AssetKey("counted"), "counted_has_rows"), limit=10)
        assert [record.run_id for record in history] == [kept]


def _job_run(instance, name: str, fails: bool = False) -> str:
    @dg.op(name=f"{name}_step")
    def step():
        if fails:
            raise RuntimeError("the step failed")

    @dg.job(name=name)
    def job():
        step()

    return job.execute_in_process(instance=instance, raise_on_error=False).run_id


def test_successful_refreshes_go_sooner_and_failed_ones_and_other_jobs_stay(env: Path):
    with dagster_instance() as instance:
        gone = {_job_run(instance, "refresh"), _job_run(instance, "listener_refresh")}
        stay = {_job_run(instance, "refresh", fails=True), _job_run(instance, "full_retrain"),
                _job_run(instance, "listener_retrain")}
        assert prune_runs(instance, keep_days=30, keep_refresh_days=-1) == 2  # refreshes older than tomorrow
        assert set(instance.get_run_ids()) == stay
        assert prune_runs(instance, keep_days=30, keep_refresh_days=30) == 0
    assert not gone & {path.stem for path in (env / "dagster_home" / "history" / "runs").iterdir()}


def test_the_disk_benchmark_prunes_as_the_schedule_would_on_its_simulated_clock(env: Path):
    """Its refreshes run back to back: by the real clock none is old enough to prune, so its month
    would show a home the schedule never keeps."""
    from datetime import UTC, datetime
    from types import SimpleNamespace

    from orchestration.benchmark.disk_simulation import prune_on_the_simulated_clock

    settings = SimpleNamespace(keep_runs_days=30, keep_refresh_runs_days=1)
    started, runs = [], []
    with dagster_instance() as instance:
        for _ in range(3):  # three simulated days of one refresh each
            started.append(datetime.now(UTC))
            runs.append(_job_run(instance, "refresh"))
        other = _job_run(instance, "full_retrain")
    prune_on_the_simulated_clock(settings, started, per_day=1)
    with dagster_instance() as instance:
        assert set(instance.get_run_ids()) == {runs[-1], other}


def test_a_prune_also_deletes_the_check_results_an_earlier_version_s_prune_left(env: Path):
    from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage

    with dagster_instance() as instance:
        leaked, old = _run(instance), _run(instance)
        instance.run_storage.delete_run(leaked)  # what the prune did before: Dagster's own delete
        SqliteEventLogStorage.delete_events(instance.event_log_storage, leaked)
        assert leaked in instance.event_log_storage.check_result_run_ids()
        assert prune_runs(instance, keep_days=-1) == 1
        kept = _run(instance)
        assert instance.event_log_storage.check_result_run_ids() == {kept}
        assert old not in instance.get_run_ids()


def test_a_new_dagster_home_gets_the_instance_configuration_and_one_with_its_own_keeps_it(tmp_path):
    from orchestration.runner import INSTANCE_CONFIG, prepare_home

    prepare_home(tmp_path / "new" / "dagster_home")
    assert (tmp_path / "new" / "dagster_home" / "dagster.yaml").read_text() == INSTANCE_CONFIG.read_text()
    own = tmp_path / "own"
    own.mkdir()
    (own / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    prepare_home(own)
    assert (own / "dagster.yaml").read_text() == "telemetry:\n  enabled: false\n"


def test_every_file_the_instance_writes_is_synced_at_checkpoints_not_at_every_event(env: Path):
    """WAL with synchronous=NORMAL: an event's commit does not wait for the disk (a full retrain
    commits about 340), and SQLite keeps the file whole through a crash or a power cut."""
    from sqlalchemy import text

    with dagster_instance() as instance:
        run_id = _run(instance)
        events = instance.event_log_storage
        for shard in ("index", run_id):
            with events._connect(shard) as conn:
                assert conn.execute(text("pragma journal_mode")).scalar() == "wal"
                assert conn.execute(text("pragma synchronous")).scalar() == 1  # NORMAL; Dagster's default is FULL (2)
        with instance.run_storage.connect() as conn:
            assert conn.execute(text("pragma synchronous")).scalar() == 1
