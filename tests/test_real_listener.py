"""The path most people take: a privacy export, no Spotify app, a features file; then the jobs.

Every step's export must validate and show moods, a next-mood prediction and coverage."""

import json

import duckdb
import pytest

from export.write import validate
from ingest.demo.files import write_data_download, write_features_file
from orchestration.cli import main


@pytest.fixture
def listener(env, dbt_manifest, monkeypatch):
    """A real person's setup: their own id and timezone, `auto` source and no Spotify credentials."""
    monkeypatch.setenv("SPOTIFY_BRAIN_INGEST_SOURCE", "auto")
    monkeypatch.setenv("SPOTIFY_BRAIN_LISTENER_ID", "me")
    monkeypatch.setenv("SPOTIFY_BRAIN_DISPLAY_NAME", "Me")
    monkeypatch.setenv("SPOTIFY_BRAIN_TIMEZONE", "America/New_York")
    monkeypatch.setenv("SPOTIFY_BRAIN_AUDIO_FEATURES", "file")
    monkeypatch.setenv("SPOTIFY_BRAIN_AUDIO_FEATURES_FILE", str(write_features_file(env / "features.csv")))
    write_data_download(env / "my_spotify_data", 2500)
    return env


def _export(folder) -> dict:
    data = json.loads((folder / "export" / "dashboard_data.json").read_text())
    validate(data)
    return data


def test_an_imported_history_gets_moods_predictions_and_coverage_at_every_step(listener, capsys):
    assert main(["import", str(listener / "my_spotify_data")]) == 0
    out = capsys.readouterr().out
    assert "plays inserted      2500" in out and "0 tracks still without audio features" in out
    assert "SPOTIFY_CLIENT_ID" in out  # genres need an app: the report says so

    assert main(["run", "--job", "refresh"]) == 0
    refreshed = _export(listener)
    assert refreshed["listener"] == {"id": "me", "display_name": "Me", "timezone": "America/New_York"}
    assert refreshed["mood_clusters"] and refreshed["next_prediction"]["prediction_source"]
    assert all(p is not None for p in refreshed["session_probs"].values())
    assert refreshed["coverage"]["audio_features"] == {"plays_share": 1.0, "listening_time_share": 1.0}
    assert refreshed["coverage"]["genres"] == {"plays_share": 0.0, "listening_time_share": 0.0}
    assert "Moods describe 100% of listening time" in (
        listener / "export" / "dashboard.html").read_text()

    assert main(["run", "--job", "full_retrain"]) == 0
    retrained = _export(listener)
    assert retrained["mood_clusters"] and retrained["next_prediction"]["mood_distribution"]
    latest = retrained["metrics"]["latest"]
    assert latest["mood_model"]["val_log_loss"] is not None and latest["session_model"]["val_brier"] is not None
    con = duckdb.connect("warehouse/brain.duckdb", read_only=True)
    # `auto` without credentials never generated demo plays into a real history
    assert con.execute("select distinct source from raw.plays").fetchall() == [("extended_history",)]
    con.close()
