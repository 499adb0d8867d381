"""Listeners as Dagster partitions of the per-listener assets (models, predictions, export).

Dynamic partitions, kept in step with `raw.listeners`: a household's listeners come from
settings (SPOTIFY_BRAIN_LISTENERS) but also from `spotify-brain import --listener sam`, which
settings do not know, so the warehouse is the one list that is always right. After each
shared run (ingest, dbt, moods) the per-listener runs are requested, one run per listener,
so one listener's failure never blocks another's export.
"""

from __future__ import annotations

import dagster as dg
import duckdb

from warehouse.build_inputs import last_build
from warehouse.settings import Settings

LISTENERS = dg.DynamicPartitionsDefinition(name="listeners")


def listener_ids(con: duckdb.DuckDBPyConnection) -> list[str]:
    return [row[0] for row in con.execute("select listener_id from raw.listeners order by listener_id").fetchall()]


def sync_partitions(instance: dg.DagsterInstance, ids: list[str]) -> None:
    """Add the listeners the instance does not know yet as partitions."""
    known = set(instance.get_dynamic_partitions(LISTENERS.name))
    if new := [listener for listener in ids if listener not in known]:
        instance.add_dynamic_partitions(LISTENERS.name, new)


def listeners_to_update(con: duckdb.DuckDBPyConnection, shared_job: str, settings: Settings) -> list[str]:
    """Whose models, predictions and export a shared run has changed: after a full retrain,
    everyone; after a refresh, the listeners with new plays (the incremental models' rebuild
    list), and anyone without an export yet."""
    everyone = listener_ids(con)
    if shared_job != "refresh":
        return everyone
    if last_build(settings.data_dir).get("skipped"):  # the refresh found nothing new: nothing changed
        return [listener for listener in everyone if not settings.export_path_for(listener).exists()]
    exists = con.execute("select count(*) from information_schema.tables where table_schema = 'intermediate' "
                         "and table_name = 'int_plays__rebuild_from'").fetchone()[0]
    changed = {row[0] for row in con.execute(
        "select listener_id from intermediate.int_plays__rebuild_from").fetchall()} if exists else set(everyone)
    return [listener for listener in everyone
            if listener in changed or not settings.export_path_for(listener).exists()]
