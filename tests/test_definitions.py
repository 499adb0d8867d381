"""The Dagster code location: asset keys, lineage into dbt, checks, jobs and schedules."""

import dagster as dg
import pytest

from warehouse.settings import load_settings


@pytest.fixture
def defs(env, dbt_manifest):
    """The definitions as a process started with this test's settings builds them (an earlier test
    in the session may have imported them under other settings: the schedules' timezone is read then)."""
    import importlib

    import orchestration.definitions

    return importlib.reload(orchestration.definitions).defs


def test_asset_keys_connect_python_tables_to_dbt_sources(defs):
    graph = defs.resolve_asset_graph()
    keys = {key.to_user_string() for key in graph.get_all_asset_keys()}
    for table in ("plays", "tracks", "artists", "audio_features", "listeners"):
        assert f"raw/{table}" in keys
    assert {"ml/mood_clusters", "ml/track_moods", "ml/next_mood_model", "ml/session_start_model",
            "ml/next_mood_predictions", "ml/session_start_predictions", "export/dashboard_data"} <= keys
    # dbt models are keyed like the relations ad-hoc SQL reads: marts.fct_plays -> marts/fct_plays
    assert {"marts/fct_plays", "marts/fct_sessions", "marts/fct_listening_hours", "marts/genre_profiles",
            "marts/ml_next_track_training", "marts/ml_session_start_training"} <= keys
    # the staging model reads the table the ingest asset writes; the mood marts read the clustering
    assert dg.AssetKey(["raw", "plays"]) in graph.get(dg.AssetKey(["staging", "stg_spotify__plays"])).parent_keys
    assert dg.AssetKey(["ml", "track_moods"]) in graph.get(dg.AssetKey(["staging", "stg_ml__track_moods"])).parent_keys


def test_dbt_tests_are_asset_checks(defs):
    checks = {key.name for key in defs.resolve_asset_graph().asset_check_keys}
    assert "unique_fct_sessions_session_id" in checks
    assert "unique_fct_plays_play_id" in checks and "unique_combination_stg_spotify__plays_listener_id__track_id__played_at" in checks
    assert not [name for name in checks if name.startswith("accepted_")]  # logic tests run with the suite, not as checks
    assert "serves_learned_model" in checks  # a retrain that serves a baseline shows as a warning


def test_jobs_and_schedules(defs):
    keys = {name: defs.resolve_job_def(name).asset_layer.executable_asset_keys
            for name in ("full_retrain", "refresh", "listener_retrain", "listener_refresh", "import_history")}
    shared_training = {dg.AssetKey(["ml", "mood_clusters"]), dg.AssetKey(["marts", "ml_session_start_training"]),
                       dg.AssetKey(["marts", "ml_next_track_training"])}
    models = {dg.AssetKey(["ml", "next_mood_model"]), dg.AssetKey(["ml", "session_start_model"])}
    assert shared_training <= keys["full_retrain"] and not shared_training & keys["refresh"]
    # each listener's models, predictions and export are partitioned runs of their own
    assert models <= keys["listener_retrain"] and not models & keys["listener_refresh"]
    per_listener = {dg.AssetKey(["export", "dashboard_data"]), dg.AssetKey(["ml", "session_start_predictions"])}
    assert per_listener <= keys["listener_refresh"] and not per_listener & (keys["full_retrain"] | keys["refresh"])
    assert defs.resolve_job_def("listener_refresh").partitions_def.name == "listeners"
    # the lean refresh still rebuilds the incremental play models and the scoring tables, after enrichment
    assert {dg.AssetKey(["marts", "fct_plays"]), dg.AssetKey(["marts", "ml_session_start_scoring"]),
            dg.AssetKey(["marts", "ml_next_track_scoring"]), dg.AssetKey(["raw", "audio_features"]),
            dg.AssetKey(["ml", "track_moods"])} <= keys["refresh"]
    # but no view: rows that arrive reach a view when it is read; the daily job creates them (and their tests)
    views = {dg.AssetKey(["staging", "stg_spotify__plays"]), dg.AssetKey(["intermediate", "int_plays__track_resolved"]),
             dg.AssetKey(["staging", "stg_ml__track_moods"])}
    assert views <= keys["full_retrain"] and not views & keys["refresh"]
    refresh_checks = {key.name for key in defs.resolve_job_def("refresh").asset_layer.asset_graph.asset_check_keys}
    assert "unique_fct_plays_play_id" in refresh_checks
    assert "relationships_fct_plays_listener_id__listener_id__ref_stg_spotify__listeners_" not in refresh_checks
    assert keys["import_history"] == {dg.AssetKey(["raw", t]) for t in (
        "plays", "tracks", "listeners", "ingest_runs", "rejected_records", "artists", "audio_features",
        "feature_lookups", "catalog_lookups", "enrichment_runs",
        "recordings", "artist_genres", "track_links", "metadata_lookups")}  # the keyless providers' answers
    crons = {s.job_name: s.cron_schedule for s in defs.schedules}
    assert crons == {"refresh": "*/30 * * * *", "full_retrain": "15 4 * * *"}
    assert {s.execution_timezone for s in defs.schedules} == {load_settings().timezone}


def test_every_dbt_step_runs_after_ingest_and_enrichment_in_one_piece(defs):
    """Models that read raw tables wait for the enrichment, so a job runs one dbt step on each side
    of the moods, never a split one (each split costs a dbt invocation and loses cross-step tests)."""
    graph = defs.resolve_asset_graph()
    assert dg.AssetKey(["raw", "enrichment_runs"]) in graph.get(dg.AssetKey(["staging", "stg_spotify__plays"])).parent_keys
    for job in ("full_retrain", "refresh"):
        steps = [node.name for node in defs.resolve_job_def(job).graph.nodes_in_topological_order]
        assert steps[:2] == ["ingest", "enrichment"], steps
        assert [step for step in steps if step.startswith("dbt_")] == ["dbt_core_models", "dbt_mood_models"], steps
        assert steps.index("moods") < steps.index("dbt_mood_models"), steps  # the refresh's tables read moods through views


def test_dbt_args_carry_the_session_gap_setting(env, monkeypatch):
    from orchestration.dbt_runner import dbt_build_args

    monkeypatch.setenv("SPOTIFY_BRAIN_SESSION_GAP_MINUTES", "45")
    assert dbt_build_args(load_settings(), ["--select", "fqn:*"]) == [
        "build", "--select", "fqn:*", "--exclude", "test_type:unit", "tag:logic", "--indirect-selection", "cautious",
        "--vars", '{"session_gap_minutes": 45, "stats_exclude_artists": [], "stats_exclude_tracks": [], '
        '"stats_min_play_ms": 0}']


def test_scheduled_dbt_steps_log_each_node_not_each_statement_unless_asked(env, monkeypatch):
    """dbt's file log at info (each node's start, result and error): its debug lines, the SQL of
    every statement, cost a second a retrain; DBT_LOG_LEVEL_FILE brings them back."""
    import os

    from orchestration.dbt_runner import dbt_environment

    monkeypatch.setenv("DBT_LOG_LEVEL_FILE", "unset")  # restored after the test, whatever the environment had
    monkeypatch.delenv("DBT_LOG_LEVEL_FILE")
    dbt_environment(load_settings())
    assert os.environ["DBT_LOG_LEVEL_FILE"] == "info"
    monkeypatch.setenv("DBT_LOG_LEVEL_FILE", "debug")
    dbt_environment(load_settings())
    assert os.environ["DBT_LOG_LEVEL_FILE"] == "debug"


def test_a_command_s_parse_rewrites_the_manifest_only_when_a_project_file_is_newer(env, dbt_manifest):
    """Every command parses the project once (in process, for its dbt steps): an unchanged
    manifest is left as it is, one older than a project file is written again."""
    import os

    from orchestration.dbt_runner import dbt_environment, dbt_vars, parsed_project
    from orchestration.project import PROJECT_ROOT

    settings = load_settings()
    dbt_environment(settings)
    parse = (PROJECT_ROOT, str(settings.warehouse.resolve()), dbt_vars(settings), settings.duckdb_memory_limit)
    written = dbt_manifest.stat().st_mtime_ns
    parsed_project.__wrapped__(*parse)  # not the process's cached parse
    assert dbt_manifest.stat().st_mtime_ns == written
    os.utime(dbt_manifest, ns=(written, 10**18))  # 2001: older than every project file
    parsed_project.__wrapped__(*parse)
    assert dbt_manifest.stat().st_mtime_ns > 10**18


def test_every_asset_says_what_it_is(defs):
    """A description of what each asset is, never its SQL (the Translator shows no SQL)."""
    graph = defs.resolve_asset_graph()
    missing = [key.to_user_string() for key in graph.get_all_asset_keys()
               if graph.get(key).is_materializable and not (graph.get(key).description or "").strip()]
    assert missing == []
    assert "select" not in graph.get(dg.AssetKey(["marts", "fct_plays"])).description.lower()
