"""The schema rejects broken exports, and a failed write leaves the previous file in place."""

import copy
import json
from pathlib import Path

import pytest

from export.write import ExportInvalidError, validate, write_export

CENTROID = {"valence": 0.5, "energy": 0.5, "danceability": 0.5, "acousticness": 0.5,
            "instrumentalness": 0.1, "tempo_norm": 0.48}


def _valid() -> dict:
    run = {"run_at": "2026-11-01T10:00:00+01:00", "num_tracks": 10, "num_sessions": 3,
           "mood_model": {"train_accuracy": 0.8, "val_accuracy": 0.7, "val_f1_macro": 0.6, "val_log_loss": 0.9,
                          "baselines": {"majority": {"val_accuracy": 0.4, "val_log_loss": 1.2}},
                          "model_beats_baseline": True},
           "session_model": {"train_roc_auc": None, "val_roc_auc": None, "val_pr_auc": None, "val_f1": None,
                             "val_brier": 0.1, "calibration_error": 0.02,
                             "baselines": {"hour_of_week_rate": {"val_roc_auc": None, "val_pr_auc": None, "val_brier": 0.1}},
                             "model_beats_baseline": False}}
    return {
        "schema_version": "1.0", "generated_at": "2026-11-01T10:00:00+01:00",
        "listener": {"id": "demo", "display_name": "Demo", "timezone": "Europe/Berlin"},
        "next_prediction": {"mood_cluster_id": 0, "mood_label": "Calm", "confidence": 0.6,
                            "confidence_kind": "estimated_baseline_probability",
                            "mood_distribution": [{"mood_cluster_id": 0, "mood_label": "Calm", "probability": 0.6},
                                                  {"mood_cluster_id": 1, "mood_label": "Loud", "probability": 0.4}],
                            "prediction_source": "persistence_baseline", "model_version": "next_mood-abc",
                            "validation_reliability": 0.7, "cluster_centroid": CENTROID, "recommended_tracks": []},
        "session_probs": {str(h): 0.1 for h in range(24)},
        "top_hours": [{"hour": 7, "probability": 0.1}],
        "session_actual": {str(h): 0.5 for h in range(24)},
        "mood_clusters": [{"cluster_id": 0, "label": "Calm", "size": 4, "centroid": CENTROID}],
        "mood_trajectory": [{"time": "2026-11-01T09:45:00+01:00", "valence": 0.4, "energy": 0.3}],
        "recently_played": [{"track_id": "t", "track_name": "T", "artist_name": "A",
                             "played_at": "2026-11-01T09:50:00+01:00", "image_url": None, "mood_cluster_id": 0}],
        "genre_profiles": {"overall": [{"genre": "jazz", "share": 1.0}], "by_part_of_day": {}, "by_mood": {}},
        "metrics": {"latest": run, "history": []},
        "drift": {"drift_detected": False, "recent_days": 14, "features": {}},
    }


def test_a_complete_export_validates():
    validate(_valid())


@pytest.mark.parametrize("breakage", [
    lambda d: d.pop("session_probs"),
    lambda d: d["session_probs"].pop("23"),
    lambda d: d["listener"].update(email="someone@example.com"),
    lambda d: d["top_hours"][0].update(hour="7"),
    lambda d: d["next_prediction"].update(confidence=1.2),
    lambda d: d["session_probs"].update({"5": -0.1}),
    lambda d: d["next_prediction"].update(prediction_source="a guess"),
    lambda d: d["mood_clusters"][0]["centroid"].pop("tempo_norm"),
    lambda d: d.update(generated_at="yesterday"),
], ids=["missing key", "missing hour", "email", "wrong type", "probability above 1", "negative probability",
        "unknown source", "centroid key", "bad timestamp"])
def test_broken_exports_are_rejected(breakage):
    data = copy.deepcopy(_valid())
    breakage(data)
    with pytest.raises(ExportInvalidError):
        validate(data)


def test_nan_is_refused_and_the_previous_file_stays(tmp_path: Path):
    path = tmp_path / "dashboard_data.json"
    write_export(_valid(), path)
    before = path.read_text()
    broken = _valid()
    broken["next_prediction"]["confidence"] = float("nan")
    with pytest.raises(ExportInvalidError, match="NaN"):
        write_export(broken, path)
    invalid = _valid()
    del invalid["drift"]
    with pytest.raises(ExportInvalidError, match="drift"):
        write_export(invalid, path)
    assert path.read_text() == before
    assert json.loads(before)["schema_version"] == "1.0"
    assert [p.name for p in tmp_path.iterdir()] == ["dashboard_data.json"]  # no temp files left
