"""What both supervised models share: loading a dbt table, the time-ordered split, and
choosing what to serve (the learned model only when it beats every baseline on the holdout)."""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import numpy as np
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import TimeSeriesSplit
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from threadpoolctl import threadpool_limits

HOLDOUT_FRACTION = 0.2
ROLLING_ORIGIN_FOLDS = 3
PARAMS = {"estimator": "LogisticRegression", "holdout": "last 20% by time",
          "selection": "rolling-origin log loss over 3 folds of the training part",
          "served_fit": "refitted on all rows after the holdout evaluation"}
# the learned-model candidates, (C, sigmoid-calibrated), chosen between by rolling origin
CANDIDATES = {"C=0.1": (0.1, False), "C=1": (1.0, False), "C=1 sigmoid-calibrated": (1.0, True)}


def one_blas_thread():
    """Fits here are on matrices of a few dozen columns: BLAS threads cost more than they save
    (a 20,000-row logistic fit took 3x longer with two threads than with one on 2 cores)."""
    return threadpool_limits(limits=1, user_api="blas")


def load_frame(con: duckdb.DuckDBPyConnection, table: str, listener_id: str, order_by: str) -> dict[str, np.ndarray]:
    """All rows of a dbt table for one listener, oldest first, as numpy columns."""
    rows = con.execute(f"select * from {table} where listener_id = ? order by {order_by}", [listener_id]).fetchnumpy()
    return {name: _unmask(values) for name, values in rows.items()}


def _unmask(values) -> np.ndarray:
    """DuckDB returns masked arrays for columns with nulls: numbers become NaN, others None."""
    if not np.ma.isMaskedArray(values):
        return np.asarray(values)
    if values.dtype.kind in "iuf":
        return values.astype(float).filled(np.nan)
    return values.astype(object).filled(None)


def data_window(con: duckdb.DuckDBPyConnection, listener_id: str) -> tuple:
    """First and last play of the listener: the data snapshot a training run saw.
    Both models of one retrain share it, which is how the export pairs their runs."""
    return con.execute(
        "select min(played_at), max(played_at) from marts.fct_plays where listener_id = ?", [listener_id]
    ).fetchone()


def time_split(n: int, holdout_fraction: float = HOLDOUT_FRACTION) -> int:
    """Index of the first holdout row: training is the past, the holdout the latest part."""
    return n - int(round(n * holdout_fraction))


def take(frame: dict[str, np.ndarray], rows: slice | np.ndarray) -> dict[str, np.ndarray]:
    return {name: values[rows] for name, values in frame.items()}


@dataclass
class Choice:
    served: str            # "model" or "<baseline>_baseline"
    model_beats_baseline: bool | None
    reason: str


def choose_served(model_loss: float | None, baseline_losses: dict[str, float | None], fallback: str) -> Choice:
    """Serve the model only if its holdout log loss beats the best baseline's; else the best baseline."""
    scored = {name: loss for name, loss in baseline_losses.items() if loss is not None}
    if not scored:
        if model_loss is None:
            return Choice(f"{fallback}_baseline", None, "no holdout to compare on; serving the simplest baseline")
        return Choice("model", None, "no baseline could be evaluated on the holdout")
    best_name = min(scored, key=scored.get)
    if model_loss is not None and model_loss < scored[best_name]:
        return Choice("model", True, f"model log loss {model_loss:.4f} < {best_name} {scored[best_name]:.4f}")
    why = "no model was trained" if model_loss is None else (
        f"model log loss {model_loss:.4f} >= {best_name} {scored[best_name]:.4f}")
    return Choice(f"{best_name}_baseline", False if model_loss is not None else None, why)


def confidence_kind(served: str, calibrated: bool) -> str:
    """What the served probabilities are, as the export's `confidence_kind` names it."""
    if served != "model":
        return "estimated_baseline_probability"
    return "calibrated_model_probability" if calibrated else "uncalibrated_model_probability"


def candidate_estimator(n_categorical: int, n_numeric: int, C: float, calibrated: bool):
    """The logistic pipeline, wrapped in sigmoid calibration when asked: each fold's classifier
    is calibrated on the block after it, so calibration never sees earlier-fitted rows."""
    pipeline = logistic_pipeline(n_categorical, n_numeric, C)
    return CalibratedClassifierCV(pipeline, method="sigmoid", cv=TimeSeriesSplit(3)) if calibrated else pipeline


def logistic_pipeline(n_categorical: int, n_numeric: int, C: float) -> Pipeline:
    """One-hot the first n_categorical columns, standardize the rest, regularized logistic regression."""
    return Pipeline([
        ("columns", ColumnTransformer([
            ("categorical", OneHotEncoder(handle_unknown="ignore"), list(range(n_categorical))),
            ("numeric", StandardScaler(), list(range(n_categorical, n_categorical + n_numeric))),
        ])),
        ("classifier", LogisticRegression(C=C, max_iter=2000)),
    ])


def rolling_origin_select(candidates: dict, frame: dict, loss, n_rows: int) -> tuple[str, dict]:
    """Pick the candidate with the lowest mean loss over rolling-origin folds of the training rows
    (each fold trains on the past and scores the block after it). Returns (name, scores)."""
    folds = list(TimeSeriesSplit(n_splits=ROLLING_ORIGIN_FOLDS).split(np.arange(n_rows)))
    scores = {}
    for name, make in candidates.items():
        losses = []
        for fit_rows, score_rows in folds:
            fit_part, score_part = take(frame, fit_rows), take(frame, score_rows)
            try:
                losses.append(loss(make().fit(fit_part), score_part))
            except ValueError:  # e.g. a fold with one class only: the candidate cannot be judged there
                continue
        scores[name] = float(np.mean(losses)) if losses else None
    judged = {name: score for name, score in scores.items() if score is not None}
    best = min(judged, key=judged.get) if judged else next(iter(candidates))
    return best, scores
