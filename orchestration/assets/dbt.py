"""dbt models as Dagster assets, in two steps around the mood clustering.

The models that read `ml.track_moods` (source:ml+) run after the clustering asset; the
rest before it. dbt tests become asset checks.
"""


import json
import os
from collections.abc import Mapping
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, dbt_assets

from orchestration.project import dbt_project
from orchestration.resources import WAREHOUSE_POOL
from warehouse.connection import writer_lock
from warehouse.settings import Settings, load_settings

MOOD_MODELS = "source:ml+"


class Translator(DagsterDbtTranslator):
    """Models are grouped by folder (staging, intermediate, marts). Keys stay dagster-dbt's
    defaults, [schema, model] (marts/fct_plays), the relation ad-hoc SQL reads."""

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        if dbt_resource_props["resource_type"] == "model":
            return dbt_resource_props["fqn"][1] if len(dbt_resource_props["fqn"]) > 2 else "dbt"
        return super().get_group_name(dbt_resource_props)


def dbt_build_args(settings: Settings) -> list[str]:
    """The dbt command every dbt asset step runs (Dagster adds the step's --select).
    Settings that dbt models use are passed as vars, so the two sides cannot disagree.
    Cautious indirect selection: a test runs only when every model it reads is in the step, so
    the lean refresh (no training tables) does not test a training table it did not build."""
    return ["build", "--vars", json.dumps({"session_gap_minutes": settings.session_gap_minutes}),
            "--indirect-selection", "cautious"]


def _run_dbt(context: dg.AssetExecutionContext, dbt: DbtCliResource):
    settings = load_settings()
    os.environ.update(settings.dbt_env())  # dbt reads the warehouse path from the environment
    with writer_lock(settings.warehouse, settings.writer_lock_timeout_s):
        yield from dbt.cli(dbt_build_args(settings), context=context).stream()


@dbt_assets(
    manifest=dbt_project().manifest_path, project=dbt_project(), exclude=MOOD_MODELS,
    dagster_dbt_translator=Translator(), name="dbt_core_models", pool=WAREHOUSE_POOL,
)
def dbt_core_models(context: dg.AssetExecutionContext, dbt: DbtCliResource):
    """Staging, sessions, hourly grid, dims and the session-start tables."""
    yield from _run_dbt(context, dbt)


@dbt_assets(
    manifest=dbt_project().manifest_path, project=dbt_project(), select=MOOD_MODELS,
    dagster_dbt_translator=Translator(), name="dbt_mood_models", pool=WAREHOUSE_POOL,
)
def dbt_mood_models(context: dg.AssetExecutionContext, dbt: DbtCliResource):
    """Models that need track moods: next-track tables, genre profiles by mood, drift."""
    yield from _run_dbt(context, dbt)


def dbt_model_key(name: str) -> dg.AssetKey:
    """The asset key of a dbt model, whichever of the two dbt steps builds it."""
    keys = {key.path[-1]: key for assets in (dbt_core_models, dbt_mood_models) for key in assets.keys}
    return keys[name]
