"""What both supervised models share: loading a dbt table, the time-ordered split, and
choosing what to serve (the learned model only when it beats every baseline on the holdout)."""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import numpy as np

HOLDOUT_FRACTION = 0.2


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
