"""dbt models as Dagster assets, in two steps around the mood clustering.

The models that read `ml.*` (source:ml+) run after the mood assets; the rest before them.
dbt tests (source tests included) are asset checks. dbt runs in this process
(orchestration/dbt_runner.py), on the warehouse connection the step holds.
"""

import json
import logging
from collections import Counter
from collections.abc import Iterator, Mapping
from functools import cache
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, dbt_assets
from dagster_dbt.asset_utils import (
    DAGSTER_DBT_EXCLUDE_METADATA_KEY, DAGSTER_DBT_SELECT_METADATA_KEY, get_manifest_and_translator_from_dbt_assets,
    get_subset_selection_for_context,
)
from dagster_dbt.core.dbt_cli_event import DbtCoreCliEventMessage

from orchestration.dbt_runner import (dbt_build_args, dbt_vars, outdated_tables, stream_events, view_versions,
                                      views_to_create)
from orchestration.project import PROJECT_ROOT, dbt_project
from orchestration.resources import settings_and_writer
from warehouse.build_inputs import (build_was_unfinished, built_views, fingerprint, last_build, mark_build, record_build,
                                    record_views)

MOOD_MODELS = "source:ml+"
ENRICHED = dg.AssetKey(["raw", "enrichment_runs"])
# groups laid out so data flows one way on screen: ingest -> staging -> intermediate -> marts -> stats
# -> moods -> mood_marts -> models -> export
GROUP_OF_FOLDER = {"staging": "staging", "intermediate": "intermediate", "marts": "marts"}


class Translator(DagsterDbtTranslator):
    """Keys are dagster-dbt's defaults, [schema, model] (marts/fct_plays), the relation ad-hoc SQL
    reads. Groups follow the folder, except that everything reading the mood tables is in
    `moods` (the staging of ml.*) or `mood_marts`, so no group edge runs backwards.
    Descriptions are the yml's, never the SQL (an undocumented model shows as one)."""

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        if dbt_resource_props["resource_type"] != "model":
            return super().get_group_name(dbt_resource_props)
        name, folder = dbt_resource_props["name"], dbt_resource_props["fqn"][1]
        if name.startswith("stg_ml__"):
            return "moods"
        if name.startswith("stats_"):
            return "stats"
        if MOOD_MODEL_NAMES and name in MOOD_MODEL_NAMES:
            return "mood_marts"
        return GROUP_OF_FOLDER.get(folder, "marts")

    def get_description(self, dbt_resource_props: Mapping[str, Any]) -> str:
        return dbt_resource_props.get("description") or ""

    def get_asset_check_spec(self, asset_spec: dg.AssetSpec, manifest: Mapping[str, Any], unique_id: str,
                             project) -> dg.AssetCheckSpec | None:
        """Tests tagged `logic` check our SQL, not the data, and are not run by the jobs
        (orchestration/dbt_runner.py): no check that would never be evaluated."""
        if "logic" in manifest["nodes"][unique_id].get("tags", []):
            return None
        return super().get_asset_check_spec(asset_spec, manifest, unique_id, project)

    def get_asset_spec(self, manifest: Mapping[str, Any], unique_id: str, project) -> dg.AssetSpec:
        """A model that reads a raw table waits for the enrichment too, so a job builds its models
        after ingest and enrichment have both landed (one dbt step, not one on either side).
        A table also depends on the sources it reads through views: the refresh builds no views
        (jobs.py), and without these edges it would build its tables before the plays landed."""
        spec = super().get_asset_spec(manifest, unique_id, project)
        if not unique_id.startswith("model."):
            return spec
        sources = _sources_read(manifest, unique_id, through_views=manifest["nodes"][unique_id]["config"].get(
            "materialized") != "view")
        deps = {self.get_asset_key(manifest["sources"][uid]) for uid in sources}
        if any(uid.startswith("source.spotify_brain.raw.") for uid in sources):
            deps.add(ENRICHED)
        new = deps - {dep.asset_key for dep in spec.deps}
        return spec.merge_attributes(deps=sorted(new, key=lambda key: key.path)) if new else spec


def _sources_read(manifest: Mapping[str, Any], unique_id: str, through_views: bool) -> set[str]:
    """The sources a model reads: its own, and with `through_views` those of the views it reads."""
    parent_map = manifest.get("parent_map", {})
    found, seen, todo = set(), set(), list(parent_map.get(unique_id, []))
    while todo:
        if (uid := todo.pop()) in seen:
            continue
        seen.add(uid)
        if uid.startswith("source."):
            found.add(uid)
        elif through_views and uid in manifest["nodes"] and manifest["nodes"][uid]["config"].get("materialized") == "view":
            todo += parent_map.get(uid, [])
    return found


TRANSLATOR_SETTINGS = DagsterDbtTranslatorSettings(enable_source_tests_as_checks=True)


@cache
def _manifest() -> dict:
    return json.loads(dbt_project().manifest_path.read_text())


def models_tagged(tag: str) -> set[str]:
    """Names of the dbt models with a tag: `daily` ones (training tables, statistics) are built
    by the daily job only."""
    return {node["name"] for node in _manifest()["nodes"].values()
            if node["resource_type"] == "model" and tag in node["tags"]}


def models_materialized(kind: str) -> set[str]:
    """Names of the dbt models materialized as `kind` (view, table, incremental)."""
    return {node["name"] for node in _manifest()["nodes"].values()
            if node["resource_type"] == "model" and node["config"]["materialized"] == kind}


def _mood_model_names() -> set[str]:
    """Models downstream of the ml sources, from the manifest (what `source:ml+` selects)."""
    manifest = _manifest()
    children = manifest["child_map"]
    seen, todo = set(), [uid for uid in manifest["sources"] if manifest["sources"][uid]["source_name"] == "ml"]
    while todo:
        for child in children.get(todo.pop(), []):
            if child.startswith("model.") and child not in seen:
                seen.add(child)
                todo.append(child)
    return {manifest["nodes"][uid]["name"] for uid in seen}


MOOD_MODEL_NAMES = _mood_model_names()


def _table_metadata(con, relation: Mapping[str, Any], materialized: str) -> dict:
    """Row count of a table (a view would be computed to count it). No column schema: the UI shows
    a materialization's schema instead of the definition's, which carries the yml's descriptions
    (and it was a quarter of the bytes of a refresh's dbt events)."""
    if materialized == "view":
        return {}
    schema, name = relation["schema"], relation["alias"]
    return {"dagster/row_count": con.execute(f'select count(*) from "{schema}"."{name}"').fetchone()[0]}


class _SkippedOnPurpose(logging.Filter):
    """Dagster warns when a step ends without a blocking check's result ("downstream step ... will
    proceed without gating on it"). A dbt step that finds nothing new ends so on purpose, says why
    in its log, and the steps after it are skipped: for those steps the warning is dropped."""

    def __init__(self):
        super().__init__()
        self.steps: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not (message.startswith("Blocking asset check") and "emitted no result" in message
                    and any(f"in step {step!r}" in message for step in self.steps))


SKIPPED_ON_PURPOSE = _SkippedOnPurpose()
logging.getLogger("dagster._core.execution.plan.active").addFilter(SKIPPED_ON_PURPOSE)


def _build(context: dg.AssetExecutionContext, skip_if_unchanged: bool = False) -> Iterator:
    """`dbt build` of this step's selected models and their tests, event by event. With
    `skip_if_unchanged` (the core models' step), a refresh whose inputs are those of the last
    build builds nothing: it yields no event, so the steps after it are skipped too."""
    manifest, translator, project = get_manifest_and_translator_from_dbt_assets([context.assets_def])
    selection, indirect = get_subset_selection_for_context(
        context=context, manifest=manifest, select=context.op.tags.get(DAGSTER_DBT_SELECT_METADATA_KEY),
        exclude=context.op.tags.get(DAGSTER_DBT_EXCLUDE_METADATA_KEY), selector=None,
        dagster_dbt_translator=translator, current_dbt_indirect_selection_env=None)
    statuses: Counter = Counter()
    with settings_and_writer() as (settings, con):
        job = context.run.job_name
        inputs = fingerprint(con, dbt_vars(settings), {uid: node["checksum"]["checksum"]
                                                       for uid, node in manifest["nodes"].items() if "checksum" in node}
                             ) if skip_if_unchanged else None
        SKIPPED_ON_PURPOSE.steps.discard(context.op.name)
        if inputs and job == "refresh" and last_build(settings.data_dir).get("fingerprint") == inputs:
            SKIPPED_ON_PURPOSE.steps.add(context.op.name)
            context.log.info("dbt: nothing new since the last build (no new plays, tracks, features or settings): "
                             "nothing is built, and no listener's predictions or export are redone")
            record_build(settings.data_dir, inputs, job, skipped=True)
            return
        outdated = outdated_tables(con, manifest, {key.path[-1] for key in context.selected_asset_keys})
        for name, missing in outdated.items():
            context.log.warning(f"dbt: {name} was built before its columns {', '.join(missing)} existed: "
                                "this step rebuilds its tables in full (--full-refresh), once")
        interrupted = build_was_unfinished(settings.data_dir, context.op.name)
        if interrupted:
            context.log.warning("dbt: the last build of this step did not finish (killed, or a model or test failed): "
                                "this step rebuilds its tables in full (--full-refresh), so none is left half-updated")
        every_model = {key.path[-1] for key in context.assets_def.node_keys_by_output_name.values()}  # not only the selected
        views = view_versions(manifest, dbt_vars(settings), every_model)
        selection, recreated = _with_views_to_create(context, con, manifest, selection, views,
                                                     built_views(settings.data_dir))
        created: dict[str, str] = {}
        args = dbt_build_args(settings, selection, indirect, full_refresh=bool(outdated) or interrupted)
        mark_build(settings.data_dir, context.op.name, finished=False)
        try:
            for raw in stream_events(args, settings, PROJECT_ROOT):
                node = raw["data"]["node_info"]
                statuses[f"{node['resource_type']}s {node['node_status']}"] += 1
                if node["node_status"] not in ("success", "pass"):  # one line per node would be an event each
                    context.log.warning(f"dbt: {raw['info']['msg'].strip()}")
                elif node["node_name"] in views and node["resource_type"] == "model":
                    created[node["node_name"]] = views[node["node_name"]]
                message = DbtCoreCliEventMessage(raw_event=raw, event_history_metadata={})
                for event in message.to_default_asset_events(manifest, translator, context, project=project):
                    if _is_about(context, event, recreated):
                        continue  # a view outside this run's selection: dbt created it, the run does not report it
                    if isinstance(event, dg.Output):
                        node = manifest["nodes"][raw["data"]["node_info"]["unique_id"]]
                        event = event.with_metadata({**event.metadata, **_table_metadata(
                            con, node, node["config"]["materialized"])})
                    yield event
        finally:
            record_views(settings.data_dir, created)
        mark_build(settings.data_dir, context.op.name, finished=True)  # not reached when dbt failed
        if inputs and not any(what.endswith(("error", "fail")) for what in statuses):
            record_build(settings.data_dir, inputs, job, skipped=False)
    context.log.info("dbt: " + ", ".join(f"{count} {what}" for what, count in sorted(statuses.items())))


def _with_views_to_create(context, con, manifest, selection: list[str], views: dict[str, str],
                          built: dict[str, str]) -> tuple[list[str], set[dg.AssetKey]]:
    """A refresh leaves the views out (jobs.py): rows that arrive reach a view when it is read. A view
    whose SQL changed since it was created (an upgrade, a changed setting) or that is missing is
    created again first, so the tables after it read the new one. Returns the dbt selection and
    the keys of the views added to it."""
    selected = {key.path[-1] for key in context.selected_asset_keys}
    stale = views_to_create(con, manifest, {n: v for n, v in views.items() if n not in selected}, built)
    if not stale or selection[:1] != ["--select"]:
        return selection, set()
    context.log.info(f"dbt: the views {', '.join(stale)} are created again first: their SQL changed since they "
                     "were, or they are missing")
    keys = {key for key in context.assets_def.node_keys_by_output_name.values() if key.path[-1] in stale}
    return ["--select", " ".join([*selection[1:], *stale])], keys


def _is_about(context, event, keys: set[dg.AssetKey]) -> bool:
    """Is this dagster-dbt event a materialization or check of one of `keys`?"""
    if isinstance(event, dg.Output):
        return context.assets_def.node_keys_by_output_name.get(event.output_name) in keys
    return getattr(event, "asset_key", None) in keys


@dbt_assets(manifest=dbt_project().manifest_path, project=dbt_project(), exclude=MOOD_MODELS,
            dagster_dbt_translator=Translator(settings=TRANSLATOR_SETTINGS), name="dbt_core_models")
def dbt_core_models(context: dg.AssetExecutionContext):
    """Staging, sessions, the hourly grid, dims, statistics and the session-start tables."""
    yield from _build(context, skip_if_unchanged=True)


@dbt_assets(manifest=dbt_project().manifest_path, project=dbt_project(), select=MOOD_MODELS,
            dagster_dbt_translator=Translator(settings=TRANSLATOR_SETTINGS), name="dbt_mood_models")
def dbt_mood_models(context: dg.AssetExecutionContext):
    """Models that need track moods: next-track tables, genre profiles by mood, drift."""
    yield from _build(context)


def checks_reading(model_names: set[str]) -> list[dg.AssetCheckKey]:
    """The asset checks (dbt tests) that read any of these models, whichever model they are on."""
    manifest = _manifest()
    uids = {uid for uid, node in manifest["nodes"].items() if node["resource_type"] == "model"
            and node["name"] in model_names}
    return [dg.AssetCheckKey(dbt_model_key(manifest["nodes"][node["attached_node"]]["name"]), node["name"])
            for node in manifest["nodes"].values()
            if node["resource_type"] == "test" and node.get("attached_node") in manifest["nodes"]
            and uids & set(node["depends_on"]["nodes"]) and "logic" not in node["tags"]]


def dbt_model_key(name: str) -> dg.AssetKey:
    """The asset key of a dbt model, whichever of the two dbt steps builds it."""
    keys = {key.path[-1]: key for assets in (dbt_core_models, dbt_mood_models) for key in assets.keys}
    return keys[name]
