"""Sensors: per-listener runs after each shared run, failures recorded where the export can say
so, imports from a drop folder, and old runs pruned so the instance does not grow for ever."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import dagster as dg

from orchestration.dagster_storage import PooledSqliteEventLogStorage
from orchestration.jobs import SHARED_JOBS, full_retrain_job, import_job, listener_refresh_job, listener_retrain_job, refresh_job
from orchestration.progress import step_error
from orchestration.runner import listeners_to_run
from orchestration.status import record_failure, record_success
from warehouse.settings import check_listener_id, load_settings

PRUNE_BATCH = 200


def per_listener_requests(instance: dg.DagsterInstance, shared_job: str, run_id: str) -> list[dg.RunRequest]:
    """After a shared run: the per-listener runs it calls for (orchestration/runner.py decides whose)."""
    job = SHARED_JOBS[shared_job][1]
    return [dg.RunRequest(run_key=f"{run_id}-{listener}", job_name=job.name, partition_key=listener)
            for listener in listeners_to_run(instance, shared_job, load_settings())]


@dg.run_status_sensor(run_status=dg.DagsterRunStatus.SUCCESS, monitored_jobs=[full_retrain_job, refresh_job],
                      request_jobs=[listener_retrain_job, listener_refresh_job], minimum_interval_seconds=5,
                      default_status=dg.DefaultSensorStatus.RUNNING)
def per_listener_runs(context: dg.RunStatusSensorContext):
    """A full retrain retrains every listener; a refresh updates the listeners with new plays."""
    run = context.dagster_run
    return per_listener_requests(context.instance, run.job_name, run.run_id)


@dg.run_failure_sensor(default_status=dg.DefaultSensorStatus.RUNNING)
def record_run_failures(context: dg.RunFailureSensorContext):
    """Keep the failed job, step and error where the next export (and its preview) can show them."""
    run, steps = context.dagster_run, context.get_step_failure_events()
    error = step_error(steps[0]) if steps else (context.failure_event.message or "the run failed")
    record_failure(load_settings(), run.job_name, run.tags.get("dagster/partition"),
                   steps[0].step_key if steps else None, error, run.run_id)


@dg.run_status_sensor(run_status=dg.DagsterRunStatus.SUCCESS, default_status=dg.DefaultSensorStatus.RUNNING)
def record_run_successes(context: dg.RunStatusSensorContext):
    run = context.dagster_run
    record_success(load_settings(), run.job_name, run.tags.get("dagster/partition"), run.run_id)


def prune_runs(instance: dg.DagsterInstance, keep_days: int, keep_refresh_days: int | None = None,
               now: datetime | None = None) -> int:
    """Delete runs (their events and captured logs too) created more than `keep_days` before `now`,
    and the successful runs of the refresh (and its listener runs) more than `keep_refresh_days`:
    the 30-minute schedule makes 48 a day and each is superseded by the next, while a failed one is
    kept to be read. (`now` other than the clock's: the disk benchmark's simulated month.)"""
    now = now or datetime.now(UTC)
    filters = [dg.RunsFilter(created_before=now - timedelta(days=keep_days))]
    if keep_refresh_days is not None and keep_refresh_days < keep_days:
        filters += [dg.RunsFilter(job_name=job.name, statuses=[dg.DagsterRunStatus.SUCCESS],
                                  created_before=now - timedelta(days=keep_refresh_days))
                    for job in (refresh_job, listener_refresh_job)]
    deleted = 0
    for runs in filters:
        while records := instance.get_run_records(filters=runs, limit=PRUNE_BATCH):
            for record in records:
                instance.delete_run(record.dagster_run.run_id)
                instance.compute_log_manager.delete_logs(prefix=[record.dagster_run.run_id])
                deleted += 1
    if deleted:
        _forget_check_results_of_deleted_runs(instance)
    return deleted


def _forget_check_results_of_deleted_runs(instance: dg.DagsterInstance) -> None:
    """A home pruned before the storage deleted a run's asset check results still holds them:
    delete those whose run is gone. (Check rows read before the runs, so a run started in between
    counts as stored.)"""
    storage = instance.event_log_storage
    if not isinstance(storage, PooledSqliteEventLogStorage):  # a dagster.yaml of the user's own
        return
    orphans = storage.check_result_run_ids() - set(instance.get_run_ids())
    if orphans:
        storage.delete_check_results(orphans)


@dg.sensor(minimum_interval_seconds=3600, default_status=dg.DefaultSensorStatus.RUNNING)
def prune_old_runs(context: dg.SensorEvaluationContext):
    """Runs older than SPOTIFY_BRAIN_KEEP_RUNS_DAYS are deleted, successful refreshes after
    SPOTIFY_BRAIN_KEEP_REFRESH_RUNS_DAYS (48 refreshes a day add up)."""
    settings = load_settings()
    deleted = prune_runs(context.instance, settings.keep_runs_days, settings.keep_refresh_runs_days)
    return dg.SkipReason(f"deleted {deleted} old run(s)")


def _inbox_items(inbox) -> tuple[list[tuple[str, str, str]], list[str]]:
    """(path, listener, version) of each export in the drop folder: files and folders directly in it
    belong to the main listener, those in a subfolder named after a listener to that listener; and
    why any subfolder was left alone (a name that is no listener id)."""
    from ingest.spotify_download.files import history_kind

    items, refused = [], []
    if not inbox.is_dir():
        return items, refused
    for entry in sorted(inbox.iterdir()):
        if entry.is_dir() and not any(history_kind(p) for p in entry.iterdir() if p.is_file()):
            try:
                check_listener_id(entry.name)
            except ValueError as exc:
                refused.append(f"{entry}: left alone: {exc}")
                continue
            items += [(str(sub), entry.name, _version(sub)) for sub in sorted(entry.iterdir())]
        else:
            items.append((str(entry), "", _version(entry)))
    return items, refused


def _version(path) -> str:
    stat = path.stat()
    return f"{stat.st_size}-{int(stat.st_mtime)}"


@dg.sensor(job=import_job, minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.RUNNING)
def inbox_imports(context: dg.SensorEvaluationContext):
    """A privacy export dropped into SPOTIFY_BRAIN_INBOX is imported as a run of import_history
    (once per version of the file: the run key is its path, size and time)."""
    settings = load_settings()
    items, refused = _inbox_items(settings.inbox)
    for why in refused:
        context.log.warning(why)
    requests = [dg.RunRequest(run_key=f"{path}@{version}", run_config={"ops": {"ingest": {"config": {
        "path": path, "listener_id": listener}}}}, tags={"inbox": path})
        for path, listener, version in items]
    return requests or dg.SkipReason("; ".join(refused) or f"nothing in {settings.inbox}")


SENSORS = [per_listener_runs, record_run_failures, record_run_successes, prune_old_runs, inbox_imports]
