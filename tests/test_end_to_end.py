"""The whole asset graph on a small demo warehouse, through the `spotify-brain run` command."""

import json
import shutil
from pathlib import Path

import duckdb
import pytest

from browser import open_page
from export.write import validate
from ingest.demo.rules import WEEKDAY_PEAKS, WEEKEND_PEAKS
from orchestration.cli import main
from orchestration.project import PROJECT_ROOT
from conftest import isolate
from helpers import dbt, table_counts
from warehouse.settings import load_settings


def _export(settings) -> dict:
    return json.loads(settings.export_path.read_text())


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory, dbt_manifest):
    """One `spotify-brain run` (full_retrain) on the small demo, shared by the tests that read it."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        folder = isolate(monkeypatch, tmp_path_factory.mktemp("demo_run"))
        settings = load_settings()
        assert main(["run"]) == 0
        yield {"folder": folder, "settings": settings, "counts": table_counts(settings.warehouse),
               "export": _export(settings)}


def test_served_predictions_follow_the_demo_rules(demo_run):
    settings, data = demo_run["settings"], demo_run["export"]
    prediction = data["next_prediction"]
    assert sum(d["probability"] for d in prediction["mood_distribution"]) == pytest.approx(1, abs=1e-4)
    assert prediction["prediction_source"] in {"model", "persistence_baseline", "transition_baseline",
                                               "majority_baseline", "hour_frequency_baseline"}
    assert len(prediction["recommended_tracks"]) == 5
    latest = data["metrics"]["latest"]
    # the served source is whichever had the lower holdout log loss
    mood = latest["mood_model"]
    best_baseline = min(b["val_log_loss"] for b in mood["baselines"].values())
    assert mood["model_beats_baseline"] == (mood["val_log_loss"] < best_baseline)
    assert (prediction["prediction_source"] == "model") == mood["model_beats_baseline"]
    # the most likely hours of the coming day are the generator's peak hours for that kind of day
    con = duckdb.connect(str(settings.warehouse), read_only=True)
    weekend = con.execute("select mode(isodow(hour_start_local) >= 6) from ml.session_start_predictions").fetchone()[0]
    con.close()
    peaks = WEEKEND_PEAKS if weekend else WEEKDAY_PEAKS
    top = [h["hour"] for h in data["top_hours"]]
    assert set(top) <= set(peaks), (top, peaks)


def test_what_a_run_writes_is_private_but_the_export_is_readable(demo_run):
    import stat

    settings = demo_run["settings"]
    mode = lambda path: stat.S_IMODE(path.stat().st_mode)  # noqa: E731
    assert mode(settings.warehouse) == 0o600
    models = next((settings.data_dir / "models").iterdir())
    assert mode(settings.data_dir) & 0o077 == 0 and mode(models) & 0o077 == 0
    assert all(mode(p) & 0o077 == 0 for p in (demo_run["folder"] / "dagster_home").rglob("*") if p.is_file()
               and p.name != "dagster.yaml")
    assert mode(settings.export_path) == 0o644


def test_the_dagster_ui_shows_row_counts_and_the_described_columns_of_dbt_tables(demo_run):
    import dagster as dg

    from orchestration.definitions import defs

    fct_plays = dg.AssetKey(["marts", "fct_plays"])
    with dg.DagsterInstance.from_config(str(demo_run["folder"] / "dagster_home")) as instance:
        latest = instance.get_latest_materialization_event(fct_plays).asset_materialization
    assert latest.metadata["dagster/row_count"].value == demo_run["counts"]["marts.fct_plays"]
    # the UI prefers a materialization's column schema to the definition's, which has the yml's words
    assert "dagster/column_schema" not in latest.metadata
    columns = defs.resolve_assets_def(fct_plays).specs_by_key[fct_plays].metadata["dagster/column_schema"].columns
    assert {c.name for c in columns} >= {"play_id", "listener_id", "played_at"} and all(c.description for c in columns)


def test_the_demo_preview_shows_every_chart_in_chromium(demo_run):
    preview = demo_run["settings"].export_path.with_name("dashboard.html")
    screenshot = demo_run["folder"] / "dashboard.png"
    seen = open_page(preview, screenshot)
    assert [m for m in seen["console"] if m["level"] == "SEVERE"] == [] and seen["requests"] == []
    assert {name: c["marks"] > 0 for name, c in seen["charts"].items()} == {name: True for name in seen["charts"]}
    assert len(seen["charts"]) == 9 and screenshot.stat().st_size > 10_000


def test_running_again_changes_nothing_but_the_audit_row(demo_run, capsys):
    settings, first_counts = demo_run["settings"], demo_run["counts"]
    validate(demo_run["export"])
    first_export = dict(demo_run["export"])
    audit = {table: first_counts[table] + 1 for table in ("raw.ingest_runs", "raw.enrichment_runs")}
    assert main(["run", "--job", "full_retrain"]) == 0
    second_counts, second_export = table_counts(settings.warehouse), _export(settings)
    # the only new rows are the audit records of the second ingest and enrichment, which found
    # nothing new (and the incremental bookkeeping says so: no listener has a tail to rebuild)
    assert {k: v for k, v in second_counts.items() if v != first_counts[k]} == {
        **audit, "intermediate.int_plays__rebuild_from": 0, "intermediate.int_listeners__rebuild": 0}
    first_export.pop("generated_at"), second_export.pop("generated_at")
    assert first_export == second_export
    capsys.readouterr()
    assert main(["run", "--job", "refresh"]) == 0
    out = capsys.readouterr().out
    assert "plays in" in out and str(settings.export_path) in out  # the summary says where the export is
    refreshed = _export(settings)
    refreshed.pop("generated_at")
    assert refreshed == first_export


def test_next_track_rows_do_not_change_when_the_future_is_removed(demo_run, tmp_path):
    warehouse = tmp_path / "cut.duckdb"
    shutil.copy(demo_run["settings"].warehouse, warehouse)
    con = duckdb.connect(str(warehouse))
    cutoff = con.execute("select min(played_at) + interval 20 days from raw.plays").fetchone()[0]
    # rows an hour clear of the cut, so no play straddling it is compared
    query = ("select * from marts.ml_next_track_training where started_at < ? - interval 1 hour "
             "order by started_at, play_id")
    before = con.execute(query, [cutoff]).fetchall()
    con.execute("delete from raw.plays where played_at >= ?", [cutoff])
    con.close()
    # raw.* is append-only for incremental builds: removing plays needs a full refresh
    result = dbt(warehouse, "run", "--full-refresh", "--select", "+ml_next_track_training")
    assert result.returncode == 0, result.stdout[-3000:]
    con = duckdb.connect(str(warehouse), read_only=True)
    assert before and con.execute(query, [cutoff]).fetchall() == before


def test_a_listener_with_almost_no_data_still_gets_a_valid_export(env, dbt_manifest, monkeypatch):
    monkeypatch.setenv("SPOTIFY_BRAIN_DEMO_DAYS", "2")
    settings = load_settings()
    assert main(["run"]) == 0
    data = _export(settings)
    validate(data)
    assert data["next_prediction"]["prediction_source"] in {None, "majority_baseline", "persistence_baseline",
                                                           "transition_baseline", "hour_frequency_baseline"}
    assert data["metrics"]["latest"]["session_model"]["served"].endswith("_baseline")


def test_a_refresh_before_any_training_serves_the_best_baseline_not_nulls(env, dbt_manifest):
    settings = load_settings()
    assert main(["run", "--job", "refresh"]) == 0
    data = _export(settings)
    validate(data)
    prediction, latest = data["next_prediction"], data["metrics"]["latest"]
    # moods were clustered on the spot, and both predictions come from a baseline judged now
    assert data["mood_clusters"] and prediction["prediction_source"].endswith("_baseline")
    assert prediction["confidence_kind"] == "estimated_baseline_probability"
    assert all(p is not None for p in data["session_probs"].values()) and len(data["top_hours"]) == 3
    session = latest["session_model"]
    assert session["served"].endswith("_baseline") and session["val_roc_auc"] is None  # no model yet
    best = min(session["baselines"].values(), key=lambda b: b["val_log_loss"])
    assert session["baselines"][session["served"].removesuffix("_baseline")] == best
    assert latest["mood_model"]["baselines"] and latest["mood_model"]["served"] == prediction["prediction_source"]


def test_without_any_audio_features_everything_still_runs(demo_warehouse, dbt_manifest, monkeypatch):
    con = duckdb.connect(str(demo_warehouse))
    con.execute("delete from raw.audio_features")
    con.close()
    monkeypatch.setenv("SPOTIFY_BRAIN_INGEST_SOURCE", "none")
    settings = load_settings()
    assert main(["run"]) == 0
    data = _export(settings)
    validate(data)
    assert data["mood_clusters"] == [] and data["mood_trajectory"] == []
    assert data["next_prediction"]["mood_cluster_id"] is None
    assert data["metrics"]["latest"]["mood_model"]["served"] == "none"
    assert len(data["recently_played"]) == 25 and data["genre_profiles"]["overall"]


def test_one_session_gets_baselines_and_null_metrics(env, dbt_manifest, monkeypatch):
    from datetime import datetime, timedelta

    from ingest.demo.generator import generate_demo_batches
    from warehouse.loaders import load_batch
    from warehouse.schema import ensure_schema

    settings = load_settings()
    demo = generate_demo_batches(settings.listener_id, settings.timezone, "One", days=3)[0]
    start = datetime(2026, 5, 4, 19, 0)
    demo.plays = [{**play, "played_at": start + timedelta(minutes=4 * i)} for i, play in enumerate(demo.plays[:8])]
    settings.warehouse.parent.mkdir(parents=True)
    con = duckdb.connect(str(settings.warehouse))
    ensure_schema(con)
    load_batch(con, demo)
    con.close()
    monkeypatch.setenv("SPOTIFY_BRAIN_INGEST_SOURCE", "none")
    assert main(["run"]) == 0
    data = _export(settings)
    validate(data)
    session = data["metrics"]["latest"]["session_model"]
    assert session["served"].endswith("_baseline")
    assert session["val_roc_auc"] is None and session["train_roc_auc"] is None
    assert data["metrics"]["latest"]["num_sessions"] == 1
    con = duckdb.connect(str(settings.warehouse), read_only=True)
    notes = [row[0] for row in con.execute("select note from ml.model_runs where model_name <> 'mood_clusters'").fetchall()]
    assert all("no model trained" in note for note in notes)


def test_the_readme_queries_run_with_the_duckdb_cli(demo_run):
    """The questions the README asks the warehouse, run as written (read-only) on a demo run."""
    import re
    import subprocess
    import sys

    readme = (PROJECT_ROOT / "README.md").read_text()
    queries = re.findall(r'duckdb -readonly data/spotify_brain\.duckdb -c "(.*?)"', readme, re.S)
    assert len(queries) >= 4
    cli = Path(sys.executable).parent / "duckdb"
    for query in queries:
        result = subprocess.run([str(cli), "-readonly", "-csv", str(demo_run["settings"].warehouse), "-c", query],
                                capture_output=True, text=True)
        assert result.returncode == 0 and len(result.stdout.splitlines()) >= 2, (query, result.stderr)
