"""The one train-evaluate-serve routine both supervised models go through (`train_and_store`), and
what it is made of: loading a dbt table, the time-ordered split, choosing what to serve. Each
model is a `Task`: only what differs between them (target, metrics, baselines, candidates)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
from threadpoolctl import threadpool_limits

from ml.candidates import CANDIDATES, Candidate, Columns, LearnedModel, rolling_origin_select, take
from ml.oracle import Oracle, with_gap
from ml.parallel import run_all
from ml.registry import ModelRun, make_run_id, save_run

HOLDOUT_FRACTION = 0.2
# a model is trained only on a training part this long: on a fortnight of plays every candidate
# learns that fortnight's noise, and the baselines are served
MIN_TRAIN_DAYS = 28
# rolling origin judges the candidates on the newest rows of the training part only: on a long
# history its 18 fits were two thirds of a listener's retrain (200,000 demo plays: 16 s of 25),
# and on those 50,000 rows they chose as on all 160,000 (the chosen one is still fitted on all)
SELECTION_MAX_ROWS = 50_000
PARAMS = {"holdout": "last 20% by time",
          "selection": f"rolling-origin log loss over 3 folds of the training part's newest {SELECTION_MAX_ROWS:,} "
                       "rows, the baselines scored on the same folds; a candidate no better than the best of them "
                       "is not chosen",
          "served_fit": "refitted on all rows after the holdout evaluation"}


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


@dataclass
class Choice:
    served: str            # "model" or "<baseline>_baseline"
    model_beats_baseline: bool | None
    reason: str


# overfitting: the model's log loss grows from its training part to the holdout by more than the
# best baseline's does, by this share of the model's holdout log loss
OVERFIT_MARGIN = 0.25  # the demo's boosted trees: 0.15; a real listener's that lost the holdout: 0.70


def overfitting(metrics: dict, baselines: dict) -> float | None:
    """How much more the model's log loss grows from its training part to the holdout than the
    best baseline's does, as a share of the model's holdout log loss (0.3: 30 %). The baseline's
    growth is the listener's habits drifting, which no model is to blame for (a listener who went
    quiet for a year has a training part any predictor finds easy). None without the figures."""
    train, holdout = metrics.get("train_log_loss"), metrics.get("log_loss")
    judged = {name: b for name, b in baselines.items()
              if b.get("log_loss") is not None and b.get("train_log_loss") is not None}
    if train is None or not holdout or not judged:
        return None
    best = min(judged.values(), key=lambda b: b["log_loss"])
    return ((holdout - train) - (best["log_loss"] - best["train_log_loss"])) / holdout


def _span_days(times: np.ndarray) -> float:
    stamps = np.asarray(times).astype("datetime64[s]").astype(np.int64)
    return float(stamps.max() - stamps.min()) / 86400 if len(stamps) else 0.0


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


def confidence_kind(served: str) -> str:
    """What the served probabilities are, as the export's `confidence_kind` names it (no
    candidate is recalibrated after fitting: the reliability table says how well they match)."""
    return "estimated_baseline_probability" if served != "model" else "uncalibrated_model_probability"


class Task:
    """What one model gives the routine. Predictors (baselines and candidates alike) have
    `fit(frame)` and `predict_proba(frame)`; a frame is a dict of numpy columns, oldest row first."""

    model_name: str
    columns: Columns
    min_train_rows: int
    time_column: str               # when a row happened: the span of the training part
    baselines: dict[str, type]     # name -> baseline class, fitted on the training part
    fallback: str                  # the baseline served when none could be judged
    no_holdout_note: str           # "{n}": too few rows for a holdout
    too_few_note: str              # "{cut}", "{need}": too few training rows for a model

    def labels(self, frame: dict) -> np.ndarray:
        """The target of each row (a task may add it to the frame as a column)."""
        raise NotImplementedError

    def baseline(self, name: str):
        return self.baselines[name]()

    def candidate(self, candidate: Candidate) -> LearnedModel:
        raise NotImplementedError

    def loss(self, predictor, frame: dict) -> float | None:
        """What rolling origin minimises: log loss."""
        raise NotImplementedError

    def evaluate(self, predictor, train: dict, val: dict) -> dict:
        """The holdout metrics of a predictor fitted on `train`."""
        raise NotImplementedError

    def train_figures(self, predictor, train: dict) -> dict:
        """The training part's figure stored beside the holdout's, and its log loss, from one
        prediction of it (on a long history each prediction of the training part is seconds)."""
        raise NotImplementedError

    def empty_metrics(self) -> dict:
        raise NotImplementedError

    def reliability(self, predictor, val: dict) -> list[dict]:
        raise NotImplementedError

    def oracle_figures(self, oracle: Oracle, con: duckdb.DuckDBPyConnection, val: dict) -> dict | None:
        raise NotImplementedError

    def without_data(self, served):
        """The served predictor when there is no row at all to fit it on."""
        raise NotImplementedError

    def finish(self, served, choice: Choice, model_metrics: dict, baselines: dict) -> None:
        """Anything the served predictor needs beyond its fit (a decision threshold, say)."""

    def params(self) -> dict:
        """What the stored run records about the task besides the routine's own parameters."""
        return {}

    def fingerprint(self, frame: dict, labels: np.ndarray) -> str:
        raise NotImplementedError


def train_and_store(task: Task, con: duckdb.DuckDBPyConnection, listener_id: str, data_dir: Path, frame: dict,
                    learn: bool, oracle: Oracle | None = None) -> ModelRun:
    """Split by time; fit the baselines on the oldest 80 % and judge them on the newest 20 %; with
    `learn`, choose a candidate by rolling origin inside the training part (its newest
    SELECTION_MAX_ROWS rows), where the baselines compete on the same folds (none is chosen if
    one of them scores at least as well), fit it on the training part and judge it too; serve it
    only if its holdout log loss beats the best baseline's, else that baseline (training and
    holdout log loss are both kept, so overfitting shows); measure the oracle only after the
    choice; refit the served predictor on every row; store the run."""
    y = task.labels(frame)
    n = len(y)
    cut = time_split(n)
    train, val = take(frame, slice(0, cut)), take(frame, slice(cut, n))
    notes, baselines, fitted = [], {}, {}
    if cut > 0 and n - cut > 0:
        for name in task.baselines:
            fitted[name] = task.baseline(name).fit(train)
            baselines[name] = {"train_log_loss": task.loss(fitted[name], train),
                               **task.evaluate(fitted[name], train, val)}
    else:
        notes.append(task.no_holdout_note.format(n=n))

    model_metrics = {"train_log_loss": None, **task.empty_metrics()}
    days = _span_days(train[task.time_column]) if cut else 0.0
    enough = (learn and cut >= task.min_train_rows and days >= MIN_TRAIN_DAYS and len(np.unique(y[:cut])) > 1
              and n - cut > 0)
    selection, model = None, None
    if enough:
        rivals = {name: (lambda name=name: task.baseline(name)) for name in task.baselines}
        recent = max(0, cut - SELECTION_MAX_ROWS)
        selection = rolling_origin_select(CANDIDATES, task.candidate, rivals, take(train, slice(recent, cut)), task.loss,
                                          cut - recent, task.fallback)
        notes.append(selection.reason)
    trained = selection is not None and selection.chosen is not None
    if trained:
        # its fit on every row is made beside the holdout's (ml/parallel.py): served if it wins
        model, model_on_all = run_all([lambda: task.candidate(selection.candidate).fit(train),
                                       lambda: task.candidate(selection.candidate).fit(frame)])
        model_metrics = {**task.train_figures(model, train), **task.evaluate(model, train, val)}
    elif not learn:
        notes.append("no learned model yet (the daily full_retrain trains one): the best baseline is served")
    elif days < MIN_TRAIN_DAYS and cut:
        notes.append(f"{days:.0f} days of training history (a model needs {MIN_TRAIN_DAYS}): no model trained, the "
                     "best baseline is served until there is more")
    elif not enough:
        notes.append(task.too_few_note.format(cut=cut, need=task.min_train_rows))

    choice = choose_served(model_metrics["log_loss"] if trained else None,
                           {name: m["log_loss"] for name, m in baselines.items()}, fallback=task.fallback)
    notes.append(choice.reason)
    held_out = model if choice.served == "model" else fitted.get(choice.served.removesuffix("_baseline"))
    if held_out is not None:
        model_metrics["reliability"] = task.reliability(held_out, val)
    # measured only now that the choice is made: the oracle never steers it
    figures = task.oracle_figures(oracle, con, val) if oracle and trained else None
    if figures:
        figures = with_gap(figures, model_metrics, baselines)
    # the served predictor is refitted on all rows, so it knows the most recent listening
    if choice.served == "model":
        served = model_on_all
    else:
        served = task.baseline(choice.served.removesuffix("_baseline"))
        served = served.fit(frame) if n else task.without_data(served)
    task.finish(served, choice, model_metrics, baselines)
    params = {**PARAMS, **task.params(), "min_train_rows": task.min_train_rows, "min_train_days": MIN_TRAIN_DAYS,
              "features": task.columns.names(),
              "candidates": list(CANDIDATES) if learn else [], "chosen": selection.chosen if selection else None,
              "offset_baseline": selection.offset_baseline if selection else None,
              "rolling_origin_log_loss": selection.scores if selection else {},
              "rolling_origin_baseline_log_loss": selection.baseline_scores if selection else {}}
    data_start, data_end = data_window(con, listener_id)
    run = ModelRun(
        model_name=task.model_name, listener_id=listener_id, params=params,
        data_start=data_start, data_end=data_end,
        n_train=cut, n_val=n - cut, metrics=model_metrics, baselines=baselines, served=choice.served,
        model_beats_baseline=choice.model_beats_baseline,
        confidence_kind=confidence_kind(choice.served),
        note="; ".join(notes), oracle=figures,
        run_id=make_run_id(task.model_name, listener_id, params, task.fingerprint(frame, y)),
    )
    return save_run(con, run, data_dir, served)
