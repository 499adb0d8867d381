"""Next-track mood: the candidates of ml/training.py on what is known before the next track,
the best by rolling origin judged on a time-ordered holdout against four baselines; the better
one is served. On a demo listener the run also records how far both are from the oracle."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import duckdb
import numpy as np

from ml.baselines import MOOD_BASELINES, HourFrequencyBaseline, MajorityBaseline, TransitionBaseline
from ml.metrics import multiclass_metrics, reliability_table
from ml.oracle import Oracle, mood_figures, with_gap
from ml.registry import ModelRun, current_run, fingerprint, load_artifact, make_run_id, save_run
from ml.training import (
    CANDIDATES, PARAMS, Columns, LearnedModel, choose_served, confidence_kind, data_window, load_frame,
    one_blas_thread, rolling_origin_select, take, time_split,
)

COLUMNS = Columns(
    # the last moods, the hour, and the hour the session started in (its own for a first play)
    categorical=("prev_mood_1", "prev_mood_2", "prev_mood_3", "local_hour", "session_hour_by_start"),
    # a mood is kept within a session, and the session's hour draws the rest: their product
    crossed=("mood_by_session_hour",),
    numeric=(
        "prev_valence", "prev_energy", "prev_danceability", "prev_acousticness", "prev_instrumentalness",
        "prev_tempo_norm", "prev2_valence", "prev2_energy", "prev2_danceability", "prev2_acousticness",
        "prev2_instrumentalness", "prev2_tempo_norm", "prev_is_skipped", "is_session_start",
        "log_seconds_since_prev_play", "log_plays_before_in_session", "log_minutes_into_session",
        "mood_changes_last_hour", "hour_sin", "hour_cos", "dow_sin", "dow_cos",
    ),
)
MIN_TRAIN_ROWS = 100
BASELINES_BY_NAME = {b.name: b for b in MOOD_BASELINES}


def prepare(frame: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Derived columns; missing earlier moods become -1, missing numbers 0."""
    out = dict(frame)
    for col in ("prev_mood_1", "prev_mood_2", "prev_mood_3"):
        out[col] = np.nan_to_num(np.asarray(frame[col], dtype=float), nan=-1).astype(int)
    first = np.nan_to_num(frame["plays_before_in_session"].astype(float)) == 0
    session_hour = np.nan_to_num(np.asarray(frame["session_start_hour"], dtype=float), nan=-1).astype(int)
    out["is_session_start"] = first.astype(float)
    out["session_hour_by_start"] = np.where(session_hour < 0, -1, session_hour + 24 * first)
    # a session's first track does not continue the last mood: only the hour speaks for it
    out["mood_by_session_hour"] = np.where(first | (out["prev_mood_1"] < 0) | (session_hour < 0), -1,
                                           out["prev_mood_1"] * 24 + session_hour)
    out["log_seconds_since_prev_play"] = np.log1p(np.clip(np.nan_to_num(frame["seconds_since_prev_play"].astype(float)), 0, None))
    out["log_plays_before_in_session"] = np.log1p(np.nan_to_num(frame["plays_before_in_session"].astype(float)))
    out["log_minutes_into_session"] = np.log1p(np.clip(np.nan_to_num(
        np.asarray(frame["minutes_into_session"], dtype=float)), 0, None))
    out["prev_is_skipped"] = np.array([bool(v) for v in frame["prev_is_skipped"]], dtype=float)
    return out


def _stacked_baselines(classes: np.ndarray) -> list:
    """The baselines a stacked candidate sees: the transition table and the hour's moods."""
    return [TransitionBaseline(classes), HourFrequencyBaseline(classes)]


class NextMoodModel(LearnedModel):
    """A learned candidate, with the same interface as the baselines."""

    def __init__(self, classes: np.ndarray, candidate):
        super().__init__(candidate, COLUMNS, "target", make_baselines=partial(_stacked_baselines, classes))
        self.classes = classes

    def predict_proba(self, frame: dict) -> np.ndarray:
        proba = np.zeros((len(frame["prev_mood_1"]), len(self.classes)))
        learned = self.raw_proba(frame)
        for j, cls in enumerate(self.estimator.classes_):
            proba[:, np.searchsorted(self.classes, cls)] = learned[:, j]
        return proba


def _log_loss(classes: np.ndarray):
    return lambda predictor, frame: multiclass_metrics(frame["target"], predictor.predict_proba(frame), classes)["log_loss"]


def _classes(con: duckdb.DuckDBPyConnection) -> np.ndarray:
    return np.array(sorted(r[0] for r in con.execute("select mood_cluster_id from staging.stg_ml__mood_clusters").fetchall()))


def train_next_mood(con: duckdb.DuckDBPyConnection, listener_id: str, data_dir: Path,
                    oracle: Oracle | None = None) -> ModelRun | None:
    """Train, evaluate against the baselines (and, on a demo listener, the oracle), store the run
    and the served predictor."""
    classes = _classes(con)
    if len(classes) == 0:
        return None
    frame = prepare(load_frame(con, "marts.ml_next_track_training", listener_id, "started_at, play_id"))
    with one_blas_thread():
        return _train(con, listener_id, data_dir, classes, frame, learn=True, oracle=oracle)


def serve_best_baseline(con: duckdb.DuckDBPyConnection, listener_id: str, data_dir: Path) -> ModelRun | None:
    """Before any training run (a refresh right after an import): judge the baselines on each play's
    mood after the previous play's (int_play_mood_states), store the best as a run."""
    classes = _classes(con)
    if len(classes) == 0:
        return None
    frame = load_frame(con, """(select play_id, listener_id, started_at, local_hour,
                                       mood_cluster_id as target_mood_cluster_id, state_mood_2 as prev_mood_1
                                from intermediate.int_play_mood_states
                                where mood_cluster_id is not null and state_mood_2 is not null)""",
                       listener_id, "started_at, play_id")
    frame["prev_mood_1"] = frame["prev_mood_1"].astype(int)
    return _train(con, listener_id, data_dir, classes, frame, learn=False)


def _train(con: duckdb.DuckDBPyConnection, listener_id: str, data_dir: Path, classes: np.ndarray, frame: dict,
           learn: bool, oracle: Oracle | None = None) -> ModelRun:
    frame["target"] = frame["target_mood_cluster_id"].astype(int)
    n = len(frame["target"])
    cut = time_split(n)
    train, val = take(frame, slice(0, cut)), take(frame, slice(cut, n))

    notes, baselines, fitted = [], {}, {}
    if cut > 0 and n - cut > 0:
        for name, baseline_class in BASELINES_BY_NAME.items():
            fitted[name] = baseline_class(classes).fit(train)
            baselines[name] = multiclass_metrics(val["target"], fitted[name].predict_proba(val), classes)
    else:
        notes.append(f"only {n} next-track rows: no holdout, metrics are null")

    model_metrics = {"train_accuracy": None, **multiclass_metrics(np.array([]), np.empty((0, len(classes))), classes)}
    trained = learn and cut >= MIN_TRAIN_ROWS and len(np.unique(train["target"])) > 1 and n - cut > 0
    chosen, cv_scores, model = None, {}, None
    if trained:
        candidates = {name: (lambda c=c: NextMoodModel(classes, c)) for name, c in CANDIDATES.items()}
        chosen, cv_scores = rolling_origin_select(candidates, train, _log_loss(classes), cut)
        model = candidates[chosen]().fit(train)
        model_metrics = {
            "train_accuracy": multiclass_metrics(train["target"], model.predict_proba(train), classes)["accuracy"],
            **multiclass_metrics(val["target"], model.predict_proba(val), classes),
        }
    elif not learn:
        notes.append("no learned model yet (the daily full_retrain trains one): the best baseline is served")
    else:
        notes.append(f"{cut} training rows (need {MIN_TRAIN_ROWS} with two moods): no model trained")

    choice = choose_served(
        model_metrics["log_loss"] if trained else None,
        {name: m["log_loss"] for name, m in baselines.items()}, fallback="majority",
    )
    notes.append(choice.reason)
    held_out = model if choice.served == "model" else fitted.get(choice.served.removesuffix("_baseline"))
    if held_out is not None:
        model_metrics["reliability"] = reliability_table(val["target"], held_out.predict_proba(val), classes)
    # measured only now that the choice is made: the oracle never steers it
    figures = mood_figures(oracle, con, val, classes) if oracle and trained else None
    if figures:
        figures = with_gap(figures, model_metrics, baselines)
    # the served predictor is refitted on all rows, so it knows the most recent listening
    if choice.served == "model":
        served = NextMoodModel(classes, CANDIDATES[chosen]).fit(frame)
    else:
        served = BASELINES_BY_NAME[choice.served.removesuffix("_baseline")](classes)
        served = served.fit(frame) if n else _uniform(served, classes)
    params = {**PARAMS, "classes": classes.tolist(), "min_train_rows": MIN_TRAIN_ROWS, "features": COLUMNS.names(),
              "candidates": list(CANDIDATES) if learn else [], "chosen": chosen, "rolling_origin_log_loss": cv_scores}
    data_start, data_end = data_window(con, listener_id)
    run = ModelRun(
        model_name="next_mood", listener_id=listener_id, params=params,
        data_start=data_start, data_end=data_end,
        n_train=cut, n_val=n - cut, metrics=model_metrics, baselines=baselines, served=choice.served,
        model_beats_baseline=choice.model_beats_baseline,
        confidence_kind=confidence_kind(choice.served),
        note="; ".join(notes), oracle=figures,
        run_id=make_run_id("next_mood", listener_id, params, fingerprint(*(frame[k] for k in sorted(frame)))),
    )
    return save_run(con, run, data_dir, served)


def _uniform(baseline: MajorityBaseline, classes: np.ndarray) -> MajorityBaseline:
    baseline.distribution = np.full(len(classes), 1 / len(classes))
    return baseline


def predict_next_mood(con: duckdb.DuckDBPyConnection, listener_id: str) -> dict | None:
    """Score the state after the latest play with the stored predictor; store and return it."""
    run = current_run(con, "next_mood", listener_id, COLUMNS.names())
    frame = load_frame(con, "marts.ml_next_track_scoring", listener_id, "as_of")
    con.execute("delete from ml.next_mood_predictions where listener_id = ?", [listener_id])
    if run is None or len(frame["listener_id"]) == 0:
        return None
    predictor = load_artifact(run)
    proba = predictor.predict_proba(prepare(frame))[0]
    proba = proba / proba.sum()
    for cluster_id, p in zip(predictor.classes, proba):
        con.execute(
            "insert into ml.next_mood_predictions values (?, ?, ?, ?, ?)",
            [listener_id, run["run_id"], frame["as_of"][0].item(), int(cluster_id), float(p)],
        )
    return {"run_id": run["run_id"], "distribution": dict(zip(predictor.classes.tolist(), proba.tolist()))}
