"""Next-track mood: the candidates of ml/candidates.py on what is known before the next track,
the best by rolling origin judged on a time-ordered holdout against four baselines; the better
one is served. On a demo listener the run also records how far both are from the oracle."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import duckdb
import numpy as np

from ml.baselines import MOOD_BASELINES, HourFrequencyBaseline, MajorityBaseline, TransitionBaseline
from ml.metrics import multiclass_log_loss, multiclass_metrics, reliability_table
from ml.oracle import Oracle, mood_figures
from ml.candidates import Columns, LearnedModel
from ml.registry import ModelRun, current_run, fingerprint, load_artifact
from ml.training import Task, load_frame, one_blas_thread, train_and_store

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
        super().__init__(candidate, COLUMNS, "target", make_baselines=partial(_stacked_baselines, classes),
                         make_offset=partial(BASELINES_BY_NAME[candidate.offset], classes) if candidate.offset else None,
                         classes=classes)
        self.classes = classes

    def predict_proba(self, frame: dict) -> np.ndarray:
        proba = np.zeros((len(frame["prev_mood_1"]), len(self.classes)))
        learned = self.raw_proba(frame)
        for j, cls in enumerate(self.estimator.classes_):
            proba[:, np.searchsorted(self.classes, cls)] = learned[:, j]
        return proba


class NextMoodTask(Task):
    """The next-track mood for the shared routine: classes are the mood clusters."""

    model_name = "next_mood"
    columns = COLUMNS
    min_train_rows = MIN_TRAIN_ROWS
    time_column = "started_at"
    baselines = BASELINES_BY_NAME
    fallback = "majority"
    no_holdout_note = "only {n} next-track rows: no holdout, metrics are null"
    too_few_note = "{cut} training rows (need {need} with two moods): no model trained"

    def __init__(self, classes: np.ndarray):
        self.classes = classes

    def labels(self, frame: dict) -> np.ndarray:
        frame["target"] = frame["target_mood_cluster_id"].astype(int)
        return frame["target"]

    def baseline(self, name: str):
        return self.baselines[name](self.classes)

    def candidate(self, candidate) -> NextMoodModel:
        return NextMoodModel(self.classes, candidate)

    def loss(self, predictor, frame: dict) -> float | None:
        return multiclass_log_loss(frame["target"], predictor.predict_proba(frame), self.classes)

    def evaluate(self, predictor, train: dict, val: dict) -> dict:
        return multiclass_metrics(val["target"], predictor.predict_proba(val), self.classes)

    def train_figures(self, predictor, train: dict) -> dict:
        metrics = multiclass_metrics(train["target"], predictor.predict_proba(train), self.classes)
        return {"train_accuracy": metrics["accuracy"], "train_log_loss": metrics["log_loss"]}

    def empty_metrics(self) -> dict:
        return {"train_accuracy": None,
                **multiclass_metrics(np.array([]), np.empty((0, len(self.classes))), self.classes)}

    def reliability(self, predictor, val: dict) -> list[dict]:
        return reliability_table(val["target"], predictor.predict_proba(val), self.classes)

    def oracle_figures(self, oracle: Oracle, con: duckdb.DuckDBPyConnection, val: dict) -> dict | None:
        return mood_figures(oracle, con, val, self.classes)

    def without_data(self, served: MajorityBaseline) -> MajorityBaseline:
        served.distribution = np.full(len(self.classes), 1 / len(self.classes))
        return served

    def params(self) -> dict:
        return {"classes": self.classes.tolist()}

    def fingerprint(self, frame: dict, labels: np.ndarray) -> str:
        return fingerprint(*(frame[k] for k in sorted(frame)))


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
        return train_and_store(NextMoodTask(classes), con, listener_id, data_dir, frame, learn=True, oracle=oracle)


def serve_best_baseline(con: duckdb.DuckDBPyConnection, listener_id: str, data_dir: Path) -> ModelRun | None:
    """Before any training run (a refresh right after an import): judge the baselines on each play's
    mood after the previous play's (int_plays__mood_states), store the best as a run."""
    classes = _classes(con)
    if len(classes) == 0:
        return None
    frame = load_frame(con, """(select play_id, listener_id, started_at, local_hour,
                                       mood_cluster_id as target_mood_cluster_id, state_mood_2 as prev_mood_1
                                from intermediate.int_plays__mood_states
                                where mood_cluster_id is not null and state_mood_2 is not null)""",
                       listener_id, "started_at, play_id")
    frame["prev_mood_1"] = frame["prev_mood_1"].astype(int)
    return train_and_store(NextMoodTask(classes), con, listener_id, data_dir, frame, learn=False)


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
