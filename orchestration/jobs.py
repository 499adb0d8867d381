"""The two jobs and their schedules. Jobs run their steps one at a time in one process,
so two steps never write the DuckDB file together."""

from __future__ import annotations

import dagster as dg

from orchestration.assets.dbt import dbt_model_key
from orchestration.assets.ml import TRAINING_ASSETS
from orchestration.project import TRAINING_TABLES

full_retrain_job = dg.define_asset_job(
    "full_retrain",
    selection=dg.AssetSelection.all(),
    executor_def=dg.in_process_executor,
    description="Ingest, dbt build, recluster moods, retrain both models, predict, export.",
)

refresh_job = dg.define_asset_job(
    "refresh",
    selection=(dg.AssetSelection.all() - dg.AssetSelection.assets(*TRAINING_ASSETS)
               - dg.AssetSelection.assets(*(dbt_model_key(name) for name in TRAINING_TABLES))),
    executor_def=dg.in_process_executor,
    description="Ingest, incremental dbt build (no training tables), assign moods and predict with the "
                "stored models (no retraining), export.",
)


def schedules(timezone: str) -> list[dg.ScheduleDefinition]:
    return [
        dg.ScheduleDefinition(job=refresh_job, cron_schedule="*/30 * * * *", execution_timezone=timezone,
                              default_status=dg.DefaultScheduleStatus.RUNNING),
        dg.ScheduleDefinition(job=full_retrain_job, cron_schedule="15 4 * * *", execution_timezone=timezone,
                              default_status=dg.DefaultScheduleStatus.RUNNING),
    ]
