"""The Dagster code location: `dagster dev` and `dagster definitions validate` load this."""

from __future__ import annotations

import dagster as dg

from orchestration.assets.dbt import dbt_core_models, dbt_mood_models
from orchestration.assets.export import dashboard_data, website
from orchestration.assets.ingest import raw_tables
from orchestration.assets.ml import (
    mood_clusters, next_mood_model, next_mood_predictions, session_start_model, session_start_predictions, track_moods,
)
from orchestration.jobs import full_retrain_job, refresh_job, schedules
from warehouse.settings import load_settings

defs = dg.Definitions(
    assets=[raw_tables, dbt_core_models, mood_clusters, track_moods, dbt_mood_models, next_mood_model,
            session_start_model, next_mood_predictions, session_start_predictions, dashboard_data, website],
    jobs=[full_retrain_job, refresh_job],
    schedules=schedules(load_settings().timezone),
)
