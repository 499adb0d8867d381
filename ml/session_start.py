"""Session start: the probability that a listening session starts in a local hour, from what is
known when the hour begins; the best candidate by rolling origin is judged on a time-ordered
holdout against the hour-of-week and hour-of-day rates, and the better one is served. On a demo
listener the run also records how far both are from the oracle."""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np

from ml.baselines import SESSION_BASELINES, HourOfDayRate, HourOfWeekRate
from ml.metrics import best_f1_threshold, binary_log_loss, binary_metrics, reliability_table
from ml.oracle import Oracle, session_figures
from ml.candidates import Columns, LearnedModel
from ml.registry import ModelRun, current_run, fingerprint, load_artifact
from ml.training import Task, load_frame, one_blas_thread, train_and_store

# minutes since the latest play ended, in bands: a session that just ended (or still runs) holds
# the next one back for a while, and how long is for the model to learn
SINCE_PLAY_EDGES = (10, 20, 30, 40, 50, 60, 75, 90, 120, 180, 360, 720, 1440)
COLUMNS = Columns(
    categorical=("local_hour", "weekend_hour", "since_play_band"),
    crossed=(),
    numeric=(
        "hour_sin", "hour_cos", "dow_sin", "dow_cos", "sessions_last_24h", "sessions_last_7d",
        "same_hour_rate_4w", "log_hours_since_last_session", "log_minutes_since_last_play",
        "started_24h_before", "started_168h_before",
    ),
)
MIN_TRAIN_ROWS = 24 * 14
BASELINES_BY_NAME = {b.name: b for b in SESSION_BASELINES}


def prepare(frame: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    out = dict(frame)
    hour = frame["local_hour"].astype(int)
    out["weekend_hour"] = (frame["local_dow"].astype(int) >= 5) * 24 + hour
    rate = np.asarray(frame["same_hour_rate_4w"], dtype=float)
    out["same_hour_rate_4w"] = np.where(np.isnan(rate), -1.0, rate)  # -1: no history for this hour yet
    out["log_hours_since_last_session"] = np.log1p(np.asarray(frame["hours_since_last_session"], dtype=float))
    minutes = np.clip(np.nan_to_num(np.asarray(frame["minutes_since_last_play"], dtype=float), nan=40320), 0, None)
    out["since_play_band"] = np.digitize(minutes, SINCE_PLAY_EDGES)
    out["log_minutes_since_last_play"] = np.log1p(minutes)
    for column in ("started_24h_before", "started_168h_before"):
        out[column] = np.array([bool(v) for v in frame[column]], dtype=float)
    return out


def _stacked_baselines() -> list:
    """The baselines a stacked candidate sees: both hourly rates."""
    return [HourOfWeekRate(), HourOfDayRate()]


class SessionModel(LearnedModel):
    """A learned candidate, with the same interface as the rate baselines."""

    def __init__(self, candidate):
        super().__init__(candidate, COLUMNS, "session_started", make_baselines=_stacked_baselines,
                         make_offset=BASELINES_BY_NAME[candidate.offset] if candidate.offset else None,
                         classes=np.array([0, 1]))
        self.threshold = 0.5

    def predict_proba(self, frame: dict) -> np.ndarray:
        return self.raw_proba(frame)[:, 1]


def _evaluate(predictor, train: dict, val: dict) -> dict:
    """Holdout metrics; F1 at the threshold that was best on the training part."""
    threshold = best_f1_threshold(train["session_started"].astype(int), predictor.predict_proba(train))
    predictor.threshold = threshold
    metrics = binary_metrics(val["session_started"], predictor.predict_proba(val), threshold)
    return {**metrics, "threshold": threshold}


class SessionStartTask(Task):
    """Session start for the shared routine: one row per hour, did a session start in it."""

    model_name = "session_start"
    columns = COLUMNS
    min_train_rows = MIN_TRAIN_ROWS
    time_column = "hour_start_utc"
    baselines = BASELINES_BY_NAME
    fallback = "hour_of_day_rate"
    no_holdout_note = "only {n} hours of history: no holdout, metrics are null"
    too_few_note = "{cut} training hours (need {need} with both outcomes): no model trained"

    def labels(self, frame: dict) -> np.ndarray:
        return frame["session_started"].astype(int)

    def candidate(self, candidate) -> SessionModel:
        return SessionModel(candidate)

    def loss(self, predictor, frame: dict) -> float | None:
        return binary_log_loss(frame["session_started"], predictor.predict_proba(frame))

    def evaluate(self, predictor, train: dict, val: dict) -> dict:
        return _evaluate(predictor, train, val)

    def train_figures(self, predictor, train: dict) -> dict:
        metrics = binary_metrics(train["session_started"], predictor.predict_proba(train))
        return {"train_roc_auc": metrics["roc_auc"], "train_log_loss": metrics["log_loss"]}

    def empty_metrics(self) -> dict:
        return {"train_roc_auc": None, **binary_metrics(np.array([]), np.array([])), "threshold": None}

    def reliability(self, predictor, val: dict) -> list[dict]:
        return reliability_table(val["session_started"], predictor.predict_proba(val))

    def oracle_figures(self, oracle: Oracle, con: duckdb.DuckDBPyConnection, val: dict) -> dict | None:
        return session_figures(oracle, val)

    def without_data(self, served):
        served.overall, served.rates = 0.0, {}
        return served

    def finish(self, served, choice, model_metrics: dict, baselines: dict) -> None:
        """The decision threshold that was best on the training part (for F1 in the export)."""
        served.threshold = model_metrics["threshold"] if choice.served == "model" else baselines.get(
            choice.served.removesuffix("_baseline"), {}).get("threshold") or 0.5

    def fingerprint(self, frame: dict, labels: np.ndarray) -> str:
        return fingerprint(frame["hour_start_utc"], labels)


def train_session_start(con: duckdb.DuckDBPyConnection, listener_id: str, data_dir: Path,
                        oracle: Oracle | None = None) -> ModelRun:
    """Train, evaluate against the baselines (and, on a demo listener, the oracle), store the run
    and the served predictor."""
    frame = prepare(load_frame(con, "marts.ml_session_start_training", listener_id, "hour_start_utc"))
    with one_blas_thread():
        return train_and_store(SessionStartTask(), con, listener_id, data_dir, frame, learn=True, oracle=oracle)


def serve_best_baseline(con: duckdb.DuckDBPyConnection, listener_id: str, data_dir: Path) -> ModelRun:
    """Before any training run (a refresh right after an import): judge the hourly rates on the
    hourly grid's time-ordered holdout and store the best as a run, so predictions are not empty."""
    frame = load_frame(con, "marts.fct_listening_hours", listener_id, "hour_start_utc")
    frame["session_started"] = frame["sessions_started"] > 0
    return train_and_store(SessionStartTask(), con, listener_id, data_dir, frame, learn=False)


def predict_session_starts(con: duckdb.DuckDBPyConnection, listener_id: str) -> dict[int, float] | None:
    """Probabilities for the 24 local hours after the latest observed hour; stored and returned."""
    run = current_run(con, "session_start", listener_id, COLUMNS.names())
    frame = load_frame(con, "marts.ml_session_start_scoring", listener_id, "hours_ahead")
    con.execute("delete from ml.session_start_predictions where listener_id = ?", [listener_id])
    if run is None or len(frame["listener_id"]) == 0:
        return None
    proba = np.clip(load_artifact(run).predict_proba(prepare(frame)), 0, 1)
    for start, hour, p in zip(frame["hour_start_local"], frame["local_hour"], proba):
        con.execute(
            "insert into ml.session_start_predictions values (?, ?, ?, ?, ?)",
            [listener_id, run["run_id"], start.item(), int(hour), float(p)],
        )
    return dict(zip(frame["local_hour"].astype(int).tolist(), proba.tolist()))
