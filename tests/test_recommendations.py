"""Recommendations for the predicted mood, against a fake ReccoBeats built from its documented
answers (tests/fake_providers.py): tracks new to the listener that sit in the mood, next to their
own; fetched once per mood; and with ReccoBeats unreachable, the run still succeeds and says why
the list holds only known tracks."""

import json

import duckdb
import numpy as np
import pytest

from fake_providers import FakeProviders
from ml.moods import FEATURES
from ml.registry import latest_run, load_artifact
from orchestration.cli import main


@pytest.fixture
def providers(env, monkeypatch):
    fake = FakeProviders()
    for name, value in {**fake.env(), "SPOTIFY_BRAIN_LOOKUPS_PER_RUN": "3"}.items():
        monkeypatch.setenv(name, value)
    yield fake
    fake.close()


def _export(env) -> dict:
    return json.loads((env / "export" / "dashboard_data.json").read_text())


def test_discovery_tracks_are_new_sit_in_the_mood_and_are_fetched_once_per_mood(env, providers, dbt_manifest):
    assert main(["run", "--job", "full_retrain"]) == 0
    prediction = _export(env)["next_prediction"]
    lists = prediction["recommendations"]
    assert lists["mood_cluster_id"] == prediction["mood_cluster_id"] and lists["discover_note"] is None
    discover = [t["track_id"] for t in lists["discover"]]
    # the near tracks of the two requests (at the centroid and beside it): never the far one, never a played one
    assert discover and all(t.startswith("R") for t in discover) and len(providers.recommendation_targets) == 2
    con = duckdb.connect("warehouse/brain.duckdb", read_only=True)
    try:
        played = {r[0] for r in con.execute("select track_id from marts.fct_plays").fetchall()}
        model = load_artifact(latest_run(con, "mood_clusters", None))
    finally:
        con.close()
    assert not set(discover) & played
    for track_id in discover:  # ReccoBeats' own features put each in the predicted mood
        features = providers.features[track_id]
        point = np.array([[min(features["tempo"] / 250, 1) if f == "tempo_norm" else features[f] for f in FEATURES]])
        assert model.assign(point)[0] == prediction["mood_cluster_id"]
    # at most five in the contract's key, new ones first, each saying which it is
    recommended = prediction["recommended_tracks"]
    assert len(recommended) == 5 and [t["source"] for t in recommended] == ["discover"] * 3 + ["rediscover"] * 2
    assert {t["track_id"] for t in lists["rediscover"]} <= played

    before = len(providers.recommendation_targets)
    assert main(["run", "--job", "refresh"]) == 0  # the same predicted mood: nothing asked again
    assert len(providers.recommendation_targets) == before
    assert _export(env)["next_prediction"]["recommendations"]["discover"] == lists["discover"]


def test_with_reccobeats_unreachable_the_run_succeeds_with_the_listeners_own_tracks(env, providers, dbt_manifest,
                                                                                     monkeypatch):
    monkeypatch.setenv("RECCOBEATS_API_BASE_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("SPOTIFY_BRAIN_API_RETRIES", "0")
    assert main(["run", "--job", "full_retrain"]) == 0
    prediction = _export(env)["next_prediction"]
    lists = prediction["recommendations"]
    assert lists["discover"] == [] and "ReccoBeats unreachable" in lists["discover_note"]
    assert prediction["recommended_tracks"] and all(t["source"] == "rediscover" for t in prediction["recommended_tracks"])
    page = (env / "export" / "dashboard.html").read_text()
    assert "New to you" in page and "ReccoBeats unreachable" in page
