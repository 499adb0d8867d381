"""The Dagster code location: `dagster dev` and `dagster definitions validate` load this."""

from __future__ import annotations

import os

import dagster as dg

from orchestration.assets.checks import CHECKS
from orchestration.assets.dbt import dbt_core_models, dbt_mood_models
from orchestration.assets.export import dashboard_data, website
from orchestration.assets.ingest import enrichment, ingest_plays
from orchestration.assets.ml import (
    moods, next_mood_model, next_mood_predictions, recommendations, session_start_model, session_start_predictions,
)
from orchestration.jobs import JOBS, schedules
from orchestration.progress import LOGGERS
from orchestration.sensors import SENSORS
from warehouse.settings import load_settings

# the processes `make dev` runs write the warehouse, artifacts and run records: owner only
# (the export is made readable on purpose, export/write.py)
os.umask(0o077)

defs = dg.Definitions(
    assets=[ingest_plays, enrichment, dbt_core_models, moods, dbt_mood_models, next_mood_model,
            session_start_model, next_mood_predictions, session_start_predictions, recommendations, dashboard_data,
            website],
    asset_checks=CHECKS,
    jobs=JOBS,
    schedules=schedules(load_settings().timezone),
    sensors=SENSORS,
    loggers=LOGGERS,
)
