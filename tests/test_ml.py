"""Metrics, baselines, serving rule and mood clustering, on small hand-made data."""

from pathlib import Path

import numpy as np
import pytest

from ml.baselines import HourOfWeekRate, MajorityBaseline, PersistenceBaseline, TransitionBaseline
from ml.metrics import binary_metrics, multiclass_metrics
from ml.moods import describe, fit_moods, unique_labels
from ml.training import choose_served, time_split

CLASSES = np.array([0, 1, 2])


def test_undefined_metrics_are_none_not_numbers():
    one_class = binary_metrics(np.array([0, 0, 0]), np.array([0.1, 0.2, 0.3]))
    assert one_class["roc_auc"] is None and one_class["pr_auc"] is None and one_class["f1"] is None
    assert one_class["brier"] == pytest.approx((0.01 + 0.04 + 0.09) / 3)
    empty = multiclass_metrics(np.array([]), np.empty((0, 3)), CLASSES)
    assert set(empty.values()) == {None}


def test_multiclass_metrics_of_a_perfect_predictor():
    y = np.array([0, 1, 2, 1])
    metrics = multiclass_metrics(y, np.eye(3)[y], CLASSES)
    assert metrics["accuracy"] == 1 and metrics["top3_accuracy"] == 1 and metrics["f1_macro"] == 1
    assert metrics["log_loss"] < 1e-6


def test_time_split_keeps_the_latest_rows_for_the_holdout():
    assert time_split(100) == 80
    assert time_split(0) == 0


def test_model_is_served_only_when_it_beats_the_best_baseline():
    assert choose_served(0.5, {"persistence": 0.6, "majority": 1.2}, "majority").served == "model"
    lost = choose_served(0.7, {"persistence": 0.6, "majority": 1.2}, "majority")
    assert (lost.served, lost.model_beats_baseline) == ("persistence_baseline", False)
    assert choose_served(None, {"persistence": None}, "majority").served == "majority_baseline"


def _frame(prev, target, hours=None):
    n = len(prev)
    return {"prev_mood_1": np.array(prev), "target": np.array(target),
            "local_hour": np.array(hours or [0] * n),
            "started_at": np.arange(n).astype("datetime64[D]")}


def test_persistence_and_transition_baselines():
    train = _frame([0, 0, 1, 1, 2, 2, 0, 1], [0, 0, 1, 1, 2, 0, 1, 1])
    persistence = PersistenceBaseline(CLASSES).fit(train)
    proba = persistence.predict_proba(_frame([2], [2]))
    assert proba[0].argmax() == 2 and proba.sum() == pytest.approx(1)
    assert persistence.stay == pytest.approx(6 / 8)
    transition = TransitionBaseline(CLASSES).fit(train)
    # from mood 0: 0 -> 0 twice, 0 -> 1 once; Laplace-smoothed
    assert transition.predict_proba(_frame([0], [0]))[0] == pytest.approx([3 / 6, 2 / 6, 1 / 6])


def test_majority_weights_recent_plays_more():
    old, new = [0] * 50, [1] * 10
    train = _frame([0] * 60, old + new)
    train["started_at"] = np.concatenate([np.full(50, "2025-01-01"), np.full(10, "2026-01-01")]).astype("datetime64[s]")
    assert MajorityBaseline(CLASSES).fit(train).distribution.argmax() == 1


def test_hour_of_week_rate_is_shrunk_toward_the_overall_rate():
    frame = {"local_dow": np.array([0, 0, 1, 1]), "local_hour": np.array([7, 7, 7, 7]),
             "session_started": np.array([True, True, False, False])}
    rates = HourOfWeekRate().fit(frame).predict_proba(frame)
    assert rates[0] == pytest.approx((2 + 2 * 0.5) / 4) and rates[2] == pytest.approx((0 + 2 * 0.5) / 4)


def _blobs(seed=0):
    rng = np.random.default_rng(seed)
    centers = np.array([[0.2, 0.15, 0.25, 0.9, 0.85, 0.3], [0.85, 0.75, 0.8, 0.15, 0.05, 0.47],
                        [0.35, 0.92, 0.55, 0.05, 0.4, 0.6]])
    return np.clip(np.vstack([c + rng.normal(0, 0.03, (60, 6)) for c in centers]), 0, 1)


def test_kmeans_finds_the_planted_moods_and_labels_them_uniquely():
    model = fit_moods(_blobs())
    assert len(model.cluster_ids) == 3
    assert len(set(model.labels)) == 3
    assert sorted(model.sizes) == [60, 60, 60]


def test_cluster_ids_survive_a_retrain_on_shuffled_data():
    features = _blobs()
    first = fit_moods(features)
    shuffled = features[np.random.default_rng(5).permutation(len(features))]
    second = fit_moods(shuffled, previous=first)
    for cid, centroid in zip(second.cluster_ids, second.centroids):
        nearest = first.cluster_ids[np.argmin(((first.centroids - centroid) ** 2).sum(axis=1))]
        assert cid == nearest
    assert (first.assign(features) == second.assign(features)).all()


def test_too_few_tracks_give_no_clusters():
    assert fit_moods(np.random.default_rng(0).random((2, 6))) is None
    assert fit_moods(np.random.default_rng(0).random((3, 6))) is None  # three tracks: no k to judge


def test_identical_tracks_or_as_many_moods_as_tracks_still_cluster():
    # a one-artist history can hold the same features many times: fewer distinct points than k
    same = np.tile(np.random.default_rng(1).random((2, 6)), (5, 1))
    assert fit_moods(same) is not None
    assert fit_moods(np.random.default_rng(2).random((4, 6)), fixed_k=4).silhouette is None


def test_labels_read_the_centroid_and_stay_unique():
    calm = np.array([0.2, 0.1, 0.2, 0.9, 0.9, 0.3])
    assert describe(calm) == "Calm dark acoustic"
    labels = unique_labels(np.array([calm, calm * 0.99]))
    assert len(set(labels)) == 2


def test_the_f1_threshold_is_the_best_of_every_threshold():
    from sklearn.metrics import f1_score

    from ml.metrics import best_f1_threshold

    rng = np.random.default_rng(3)
    for _ in range(10):
        y, p = rng.integers(0, 2, 200), rng.random(200) ** 2
        chosen = f1_score(y, (p >= best_f1_threshold(y, p)).astype(int))
        assert chosen == pytest.approx(max(f1_score(y, (p >= t).astype(int)) for t in np.unique(p)))
    assert best_f1_threshold(np.zeros(10), rng.random(10)) == 0.5


def test_reliability_table_by_hand():
    from ml.metrics import reliability_table

    p = np.array([0.1, 0.1, 0.2, 0.2, 0.8, 0.9])
    y = np.array([0, 0, 1, 0, 1, 1])
    table = reliability_table(y, p, bins=3)
    assert table == [{"predicted": pytest.approx(0.1), "observed": 0.0, "count": 2},
                     {"predicted": pytest.approx(0.2), "observed": 0.5, "count": 2},
                     {"predicted": pytest.approx(0.85), "observed": 1.0, "count": 2}]
    # several classes: every (row, class) pair once, one-vs-rest
    proba = np.array([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1]])
    table = reliability_table(np.array([0, 2]), proba, CLASSES, bins=2)
    assert [row["count"] for row in table] == [3, 3]
    assert table[0]["observed"] == pytest.approx(1 / 3) and table[1]["observed"] == pytest.approx(1 / 3)
    assert reliability_table(np.array([]), np.array([])) == []


def test_the_share_of_the_gap_to_the_oracle():
    from ml.oracle import gap_closed, with_gap

    assert gap_closed(0.6, 0.5, 0.4) == pytest.approx(0.5)
    assert gap_closed(0.6, 0.6, 0.4) == 0 and gap_closed(0.6, 0.7, 0.4) == pytest.approx(-0.5)
    assert gap_closed(0.6, 0.5, 0.6) is None and gap_closed(None, 0.5, 0.4) is None
    figures = with_gap({"log_loss": 0.4, "brier": 0.1}, {"log_loss": 0.45},
                       {"a": {"log_loss": 0.7}, "b": {"log_loss": 0.6}, "c": {"log_loss": None}})
    assert figures["gap_closed"] == pytest.approx(0.75) and figures["brier"] == 0.1


def test_stacking_feeds_each_block_baselines_fitted_only_on_the_blocks_before_it():
    from ml.candidates import BaselineStack

    # the mood flips from 0 to 2 halfway: a baseline that saw the later rows would know
    frame = {"prev_mood_1": np.zeros(40, dtype=int), "target": np.array([0] * 20 + [2] * 20),
             "started_at": np.arange(40).astype("datetime64[D]")}
    stack = BaselineStack(lambda: [MajorityBaseline(CLASSES)], blocks=4)
    columns, rows = stack.fit_columns(frame)
    assert rows.tolist() == list(range(10, 40))  # the first block has no past: left out of the fit
    shares = np.exp(columns)  # log probabilities of classes 0, 1, 2
    # rows 10-29 see baselines fitted on rows 0-9 and 0-19: all zeros, no hint of the later 2s
    assert (shares[:20, 2] < 0.01).all()
    # rows 30-39 see rows 0-29, ten of them 2s
    assert (shares[20:, 2] > 0.2).all()
    # at prediction time the baselines know every fitted row: the recent 2s lead
    assert np.exp(stack.columns({**frame, "prev_mood_1": np.zeros(1, dtype=int)}))[0].argmax() == 2


def test_the_oracle_gives_no_chance_to_a_skipped_hour_and_knows_nothing_outside_its_span():
    from datetime import datetime

    from ml.oracle import Oracle

    hours = {datetime(2026, 10, 25, 0): 0.3, datetime(2026, 10, 25, 2): 0.5}  # 01:00 never considered
    oracle = Oracle(hours, {}, [])
    inside = np.array(["2026-10-25T00:00", "2026-10-25T01:00", "2026-10-25T02:00"], dtype="datetime64[us]")
    assert oracle.session_probabilities(inside).tolist() == [0.3, 0.0, 0.5]
    assert oracle.session_probabilities(np.array(["2026-10-25T03:00"], dtype="datetime64[us]")) is None


def _stored_run(con, tmp_path, served: str, features: list[str]):
    from ml.registry import ModelRun, save_run

    run = ModelRun(model_name="session_start", listener_id="me", params={"features": features}, data_start=None,
                   data_end=None, n_train=1, n_val=1, metrics={}, baselines={}, served=served,
                   model_beats_baseline=None, confidence_kind="x", run_id=f"session_start-{served}-{len(features)}")
    return save_run(con, run, tmp_path, {"predictor": served})


def test_a_model_trained_on_other_features_is_not_served_after_an_upgrade(tmp_path):
    import duckdb

    from ml.registry import current_run
    from warehouse.schema import ensure_schema

    con = duckdb.connect()
    ensure_schema(con)
    _stored_run(con, tmp_path, "model", ["old_feature"])
    assert current_run(con, "session_start", "me", ["new_feature"]) is None
    assert current_run(con, "session_start", "me", ["old_feature"])["served"] == "model"
    con.execute("delete from ml.model_runs")
    _stored_run(con, tmp_path, "hour_of_day_rate_baseline", ["old_feature"])  # a baseline reads no features
    assert current_run(con, "session_start", "me", ["new_feature"])["served"] == "hour_of_day_rate_baseline"


def test_a_lost_artifact_is_written_again_by_the_same_run(tmp_path):
    import duckdb
    import joblib

    from ml.registry import load_artifact, latest_run
    from warehouse.schema import ensure_schema

    con = duckdb.connect()
    ensure_schema(con)
    run = _stored_run(con, tmp_path, "model", ["f"])
    Path(run.artifact_path).unlink()
    again = _stored_run(con, tmp_path, "model", ["f"])
    assert again.artifact_path == run.artifact_path and joblib.load(again.artifact_path) == {"predictor": "model"}
    assert con.execute("select count(*) from ml.model_runs").fetchone()[0] == 1
    assert load_artifact(latest_run(con, "session_start", "me")) == {"predictor": "model"}
