"""The jobs and their schedules. Jobs run their steps one at a time in one process, so two steps
never write the DuckDB file together.

Shared jobs work on the whole household (ingest, enrichment, dbt, moods); each listener's models,
predictions and export are partitioned by listener and run as their own runs right after
(orchestration/sensors.py, or `spotify-brain run`), so one listener's failure blocks no other.
"""

from __future__ import annotations

import dagster as dg

from orchestration.assets.dbt import checks_reading, dbt_model_key, models_materialized, models_tagged
from orchestration.assets.export import dashboard_data, website
from orchestration.assets.ingest import enrichment, ingest_plays
from orchestration.assets.ml import (TRAINING_ASSETS, next_mood_model, next_mood_predictions, recommendations,
                                     session_start_model, session_start_predictions)
from orchestration.listeners import LISTENERS

PER_LISTENER = (next_mood_model, session_start_model, next_mood_predictions, session_start_predictions,
                recommendations, dashboard_data, website)
SHARED = dg.AssetSelection.all() - dg.AssetSelection.assets(*PER_LISTENER)

full_retrain_job = dg.define_asset_job(
    "full_retrain", selection=SHARED, executor_def=dg.in_process_executor,
    description="Ingest, enrichment, dbt build, recluster moods; then every listener's models are retrained "
                "(listener_retrain).",
)

refresh_job = dg.define_asset_job(
    "refresh",
    selection=(SHARED - dg.AssetSelection.assets(dg.AssetKey(["ml", "mood_clusters"]))
               - dg.AssetSelection.assets(*(dbt_model_key(name) for name in models_tagged("daily")))
               # views: rows that arrive reach them when they are read (one whose SQL changed is
               # created again by the dbt step: orchestration/assets/dbt.py)
               - dg.AssetSelection.assets(*(dbt_model_key(name) for name in models_materialized("view")))
               - dg.AssetSelection.checks(*checks_reading(models_materialized("view")))),
    executor_def=dg.in_process_executor,
    description="Ingest, enrichment, incremental dbt build (not the views, nor the daily models: training tables, "
                "statistics), "
                "moods for new tracks; then predictions and exports of the listeners with new plays (listener_refresh).",
)

listener_retrain_job = dg.define_asset_job(
    "listener_retrain", selection=dg.AssetSelection.assets(*PER_LISTENER), partitions_def=LISTENERS,
    executor_def=dg.in_process_executor,
    description="One listener: train both models, predict, export, deliver. A backfill retrains everyone.",
)

listener_refresh_job = dg.define_asset_job(
    "listener_refresh",
    selection=dg.AssetSelection.assets(*PER_LISTENER) - dg.AssetSelection.assets(*TRAINING_ASSETS),
    partitions_def=LISTENERS, executor_def=dg.in_process_executor,
    description="One listener: predict with the stored models (or the best baseline before any), export, deliver.",
)

import_job = dg.define_asset_job(
    "import_history", selection=dg.AssetSelection.assets(ingest_plays, enrichment),
    executor_def=dg.in_process_executor,
    description="Import a Spotify privacy export (run config: ops.ingest.config.path), then enrich it.",
)

SHARED_JOBS = {"full_retrain": (full_retrain_job, listener_retrain_job), "refresh": (refresh_job, listener_refresh_job)}
JOBS = [full_retrain_job, refresh_job, listener_retrain_job, listener_refresh_job, import_job]


def schedules(timezone: str) -> list[dg.ScheduleDefinition]:
    return [
        dg.ScheduleDefinition(job=refresh_job, cron_schedule="*/30 * * * *", execution_timezone=timezone,
                              default_status=dg.DefaultScheduleStatus.RUNNING),
        dg.ScheduleDefinition(job=full_retrain_job, cron_schedule="15 4 * * *", execution_timezone=timezone,
                              default_status=dg.DefaultScheduleStatus.RUNNING),
    ]
