"""dbt inside this process, for the dbt asset steps.

`dbt build` as a command starts Python, imports dbt and parses the project (about 3 s here)
before it builds anything, and each dbt step of a job paid that again. Here dbt runs through
its programmatic runner: the project is parsed once per process (with the same vars and
profile each step uses, so dbt's partial parsing stays valid) and every step reuses it.
dbt also opens the warehouse through the writer's own connection, so a step never waits
for the file it already holds, and a killed run leaves no dbt child writing behind.

Each finished node arrives as one of dbt's structured events and becomes a Dagster event
through dagster-dbt's own translation, so models are materializations and tests are asset
checks exactly as dagster-dbt's `dbt.cli(...).stream()` would make them.
"""

from __future__ import annotations

import json
import os
import queue
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from pathlib import Path

from warehouse.settings import Settings

RESULT_EVENTS = {"LogModelResult", "LogTestResult", "LogSeedResult", "LogSnapshotResult"}
# dbt's unit tests and the data tests tagged `logic` (ranges and enums of what our SQL computes)
# check the SQL, not the data: they run in the test suite and with `dbt build`/`dbt test`, not in
# every scheduled run, which checks grains, keys and relationships
SCHEDULED_EXCLUDE = ("test_type:unit", "tag:logic")


class DbtStepError(RuntimeError):
    """dbt reported errors; the message names each failed node and why."""


def dbt_vars(settings: Settings) -> str:
    """The vars every invocation passes (parse included: other vars would void partial parsing)."""
    return json.dumps({"session_gap_minutes": settings.session_gap_minutes,
                       "stats_exclude_artists": [name.lower() for name in settings.stats_exclude_artists],
                       "stats_exclude_tracks": [name.lower() for name in settings.stats_exclude_tracks],
                       "stats_min_play_ms": settings.stats_min_play_seconds * 1000}, sort_keys=True)


def dbt_environment(settings: Settings) -> None:
    """profiles.yml reads the warehouse path and memory limit from the environment."""
    os.environ.update(settings.dbt_env())
    os.environ.setdefault("DO_NOT_TRACK", "1")
    # logs/dbt.log keeps each node's start, result and error, not the SQL of every statement dbt
    # runs: formatting those debug lines was about 1 s of a 2,000-play retrain's 81 nodes.
    # DBT_LOG_LEVEL_FILE=debug brings them back
    os.environ.setdefault("DBT_LOG_LEVEL_FILE", "info")
    os.environ["DBT_SEND_ANONYMOUS_USAGE_STATS"] = "false"
    os.environ["DBT_VERSION_CHECK"] = "false"


def dbt_build_args(settings: Settings, selection: list[str] | tuple[str, ...] = (),
                   indirect_selection: str | None = None, full_refresh: bool = False) -> list[str]:
    """The `dbt build` of a scheduled step: its selection, no unit tests, the settings as vars.
    Cautious indirect selection by default: a test runs only when every model it reads is in the
    step, so the lean refresh (no training tables) does not test a training table it did not build.
    A full refresh when asked (an incremental table is older than its columns)."""
    return ["build", *selection, "--exclude", *SCHEDULED_EXCLUDE,
            "--indirect-selection", indirect_selection or "cautious", "--vars", dbt_vars(settings),
            *(["--full-refresh"] if full_refresh else [])]


def outdated_tables(con, manifest: dict, model_names: set[str]) -> dict[str, list[str]]:
    """Incremental tables among `model_names` that exist but lack a column their yml documents
    (built by an older version): appending to them would leave the kept rows null there, so the
    build that meets one must be a full refresh. {model name: missing columns}."""
    found = {}
    for node in manifest["nodes"].values():
        if (node["resource_type"] != "model" or node["name"] not in model_names
                or node["config"].get("materialized") != "incremental"):
            continue
        stored = {row[0] for row in con.execute(
            "select column_name from information_schema.columns where table_schema = ? and table_name = ?",
            [node["schema"], node["alias"]]).fetchall()}
        missing = [column for column in node["columns"] if stored and column not in stored]
        if missing:
            found[node["name"]] = missing
    return found


def view_versions(manifest: dict, vars_json: str, names: set[str]) -> dict[str, str]:
    """{name: version} of the views among `names`: a hash of what the view's SQL is compiled from
    (its file, the macros it calls, the vars). A view whose version is the one last created needs
    no `create view` when rows arrive: its query runs when it is read."""
    import hashlib

    versions = {}
    for node in manifest["nodes"].values():
        if node["resource_type"] != "model" or node["name"] not in names or node["config"].get("materialized") != "view":
            continue
        macros, todo = set(), list(node["depends_on"]["macros"])
        while todo:
            if (uid := todo.pop()) not in macros and uid in manifest["macros"]:
                macros.add(uid)
                todo += manifest["macros"][uid]["depends_on"]["macros"]
        made_of = [node["checksum"]["checksum"], vars_json, *(manifest["macros"][uid]["macro_sql"] for uid in sorted(macros))]
        versions[node["name"]] = hashlib.sha256("\x1f".join(made_of).encode()).hexdigest()
    return versions


def views_to_create(con, manifest: dict, versions: dict[str, str], built: dict[str, str]) -> list[str]:
    """The views among `versions` that are missing from the warehouse or were created from other SQL."""
    present = {(schema, name) for schema, name in con.execute("select schema_name, view_name from duckdb_views()").fetchall()}
    nodes = {node["name"]: node for node in manifest["nodes"].values() if node["name"] in versions}
    return sorted(name for name, version in versions.items()
                  if built.get(name) != version or (nodes[name]["schema"], nodes[name]["alias"]) not in present)


def project_args(project_dir: Path) -> list[str]:
    return ["--project-dir", str(project_dir), "--profiles-dir", str(project_dir)]


@lru_cache(maxsize=4)
def parsed_project(project_dir: Path, warehouse: str, vars_json: str, memory_limit: str):
    """dbt's parsed manifest for this project, warehouse and vars: parsed once per process
    (partially, from target/partial_parse.msgpack, when nothing changed)."""
    from dbt.cli.main import dbtRunner

    from orchestration.heap import loaded
    from orchestration.project import manifest_is_stale, target_dir

    # target/manifest.json (what the definitions are built from) is rewritten only when a project
    # file is newer: rewriting an unchanged one was half a second of every command (0.77 s against 0.24)
    fresh = not manifest_is_stale(target_dir(project_dir) / "manifest.json")
    args = ["parse", "--quiet", *(["--no-write-json"] if fresh else []), "--vars", vars_json, *project_args(project_dir)]
    # on a fresh thread: dbt's behaviour flags call inspect.stack() as the adapter starts, which
    # walks (and reads the source of) every frame; under a Dagster step that was 0.3 s
    with ThreadPoolExecutor(1, thread_name_prefix="dbt-parse") as pool:
        result = pool.submit(dbtRunner().invoke, args).result()
    if not result.success:
        raise DbtStepError(f"dbt could not parse the project in {project_dir}: {result.exception}")
    loaded()  # the manifest
    return result.result


def release_warehouse() -> None:
    """Close the DuckDB connection dbt-duckdb keeps for the process after an invocation, so the
    file is free again (for a reader, or a connection with other settings) once the step ends."""
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager as manager

    with manager._LOCK:
        if manager._ENV is not None:
            manager._ENV.close()
            manager._ENV = None


def stream_events(args: list[str], settings: Settings, project_dir: Path) -> Iterator[dict]:
    """Run `dbt <args>` in this process; yield each finished node's structured event (a dict
    shaped like a line of dbt's JSON log) as it happens. Raises DbtStepError at the end if
    any node failed."""
    from dbt.cli.main import dbtRunner
    from dbt_common.events.functions import msg_to_dict

    dbt_environment(settings)
    manifest = parsed_project(project_dir, str(settings.warehouse.resolve()), dbt_vars(settings),
                              settings.duckdb_memory_limit)
    events: queue.Queue = queue.Queue()
    done = object()
    outcome: dict = {}

    def on_event(message) -> None:
        if message.info.name in RESULT_EVENTS:
            events.put(msg_to_dict(message))

    def work() -> None:
        try:
            runner = dbtRunner(manifest=manifest, callbacks=[on_event])
            # dbt's own console log stays quiet: the step reports from the events (logs/dbt.log keeps the rest);
            # no manifest.json/run_results.json rewritten (a third of a second): the manifest is the
            # parse's (parsed_project), and the results are the events
            outcome["result"] = runner.invoke([*args, "--quiet", "--no-write-json", *project_args(project_dir)])
        finally:
            release_warehouse()
            events.put(done)

    # a daemon thread, so an interrupted run exits without waiting for dbt
    worker = threading.Thread(target=work, name="dbt", daemon=True)
    worker.start()
    failed = []
    try:
        while (event := events.get()) is not done:
            status = event["data"].get("status", "")
            if status in ("error", "fail"):
                node = event["data"]["node_info"]
                failed.append(f"{node['resource_type']} {node['node_name']}: {event['info']['msg'].strip()}")
            yield event
    finally:
        # the step stopped reading (it failed): let dbt finish, so it no longer holds the warehouse
        # when the run's other steps open it
        worker.join()
    result = outcome.get("result")
    if result is None or not result.success:
        reason = "; ".join(failed) or (str(result.exception) if result and result.exception else "see the dbt log")
        raise DbtStepError(f"dbt {' '.join(args[:1])} failed: {reason}")
