"""The learned candidates both models choose between: their inputs (Columns), their estimators, and
the rolling-origin choice inside the training part."""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import partial

import numpy as np
from scipy.optimize import minimize
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import TimeSeriesSplit
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from ml.parallel import run_all

ROLLING_ORIGIN_FOLDS = 3
# crossed categories (a level per pair) only with this many training rows: on a shorter history
# most pairs are seen a handful of times and the model learns their noise
CROSSED_MIN_ROWS = 5000


@dataclass(frozen=True)
class Candidate:
    """One learned-model candidate. `logistic`: one-hot categories (crossed ones too), standardized
    numbers, a regularized logistic regression, optionally stacked on the baselines' out-of-fold
    predictions. `boosting`: gradient-boosted trees on the plain categories and numbers, which
    find interactions themselves. `offset`: the log-probabilities of the baseline named `offset`
    (the best one in rolling origin, filled in when the candidates are judged) as a fixed offset
    and a logistic correction on top, every weight penalized by `alpha`: at a strong penalty it
    is that baseline, so on a listener with little to learn it adds little. How calibrated each
    is, the reliability table shows."""

    kind: str = "logistic"
    C: float = 1.0
    stacked: bool = False
    alpha: float = 0.0
    offset: str | None = None


# chosen between by rolling origin inside the training part, beside the baselines (each costs a
# fit per fold: a household retrains every listener, so the list is short). The offset penalties
# are per row of mean log loss: 0.3 leaves about the baseline, 0.003 a correction nearly as free as C=1.
CANDIDATES = {
    "logistic C=1": Candidate(C=1.0),
    "logistic C=1 stacked on the baselines": Candidate(C=1.0, stacked=True),
    "gradient boosting": Candidate(kind="boosting"),
    **{f"baseline offset, penalty {alpha:g}": Candidate(kind="offset", alpha=alpha) for alpha in (0.3, 0.03, 0.003)},
}


def candidate_estimator(candidate: Candidate, n_categorical: int, n_numeric: int):
    """The estimator of a candidate for a matrix whose first n_categorical columns are categories."""
    if candidate.kind == "boosting":
        # small trees, many rows per leaf: a year of one person's listening is not much data
        return HistGradientBoostingClassifier(
            categorical_features=list(range(n_categorical)) or None, max_iter=40, learning_rate=0.2,
            max_leaf_nodes=8, min_samples_leaf=50, l2_regularization=1.0, early_stopping=False, random_state=0)
    return logistic_pipeline(n_categorical, n_numeric, candidate.C)


def _encoder(n_categorical: int, n_numeric: int) -> ColumnTransformer:
    """One-hot the first n_categorical columns, standardize the rest."""
    return ColumnTransformer([
        ("categorical", OneHotEncoder(handle_unknown="ignore"), list(range(n_categorical))),
        ("numeric", StandardScaler(), list(range(n_categorical, n_categorical + n_numeric))),
    ])


def logistic_pipeline(n_categorical: int, n_numeric: int, C: float) -> Pipeline:
    """One-hot the first n_categorical columns, standardize the rest, regularized logistic regression."""
    return Pipeline([
        ("columns", _encoder(n_categorical, n_numeric)),
        # tol 1e-3: half the iterations of the default for a change in log loss of under 1%
        ("classifier", LogisticRegression(C=C, max_iter=2000, tol=1e-3)),
    ])


class OffsetLogistic:
    """Multinomial logistic regression on top of a baseline: the baseline's log-probabilities are
    a fixed offset, the weights (intercepts too) learn what it misses, all L2-penalized by
    `alpha` per row of mean log loss. As `alpha` grows the prediction becomes the baseline's."""

    def __init__(self, classes: np.ndarray, alpha: float, n_categorical: int, n_numeric: int):
        self.classes_, self.alpha = np.asarray(classes), alpha
        self.encoder = _encoder(n_categorical, n_numeric)

    def _scores(self, encoded, offset: np.ndarray, weights: np.ndarray) -> np.ndarray:
        k = len(self.classes_)
        scores = offset + encoded @ weights[:-k].reshape(-1, k) + weights[-k:]
        return scores - scores.max(axis=1, keepdims=True)

    def fit(self, matrix: np.ndarray, target: np.ndarray, offset: np.ndarray) -> "OffsetLogistic":
        encoded = self.encoder.fit_transform(matrix)
        rows, k = np.arange(len(target)), len(self.classes_)
        index = np.searchsorted(self.classes_, target)

        def objective(weights: np.ndarray) -> tuple[float, np.ndarray]:
            scores = self._scores(encoded, offset, weights)
            log_p = scores - np.log(np.exp(scores).sum(axis=1, keepdims=True))
            loss = -log_p[rows, index].mean() + self.alpha / 2 * weights @ weights
            residual = np.exp(log_p)
            residual[rows, index] -= 1
            residual /= len(rows)
            gradient = np.concatenate([np.asarray(encoded.T @ residual).ravel(), residual.sum(axis=0)])
            return loss, gradient + self.alpha * weights

        start = np.zeros(encoded.shape[1] * k + k)
        self.weights = minimize(objective, start, jac=True, method="L-BFGS-B", options={"maxiter": 300}).x
        return self

    def predict_proba(self, matrix: np.ndarray, offset: np.ndarray) -> np.ndarray:
        scores = self._scores(self.encoder.transform(matrix), offset, self.weights)
        proba = np.exp(scores)
        return proba / proba.sum(axis=1, keepdims=True)


def log_proba_columns(proba: np.ndarray) -> np.ndarray:
    """A baseline's probabilities as log-probability columns: a binary baseline's p becomes (1-p, p)."""
    proba = np.asarray(proba, dtype=float)
    if proba.ndim == 1:
        proba = np.column_stack([1 - proba, proba])
    return np.log(np.clip(proba, 1e-6, 1.0))


def take(frame: dict[str, np.ndarray], rows: slice | np.ndarray) -> dict[str, np.ndarray]:
    return {name: values[rows] for name, values in frame.items()}


class BaselineStack:
    """Stacking: the baselines' predictions (as log probabilities) become inputs of the model.
    When fitting, each block of rows gets the predictions of baselines fitted on the blocks
    before it, and the first block is left out of the fit: no row is learnt from with a baseline
    that saw it. When predicting, the baselines are fitted on every row the model was."""

    def __init__(self, make_baselines, blocks: int = ROLLING_ORIGIN_FOLDS + 1):
        self.make_baselines = make_baselines  # () -> list of fresh baselines
        self.blocks = blocks

    @staticmethod
    def _columns(baselines: list, frame: dict) -> np.ndarray:
        columns = [np.asarray(b.predict_proba(frame), dtype=float).reshape(len(next(iter(frame.values()))), -1)
                   for b in baselines]
        return np.log(np.clip(np.hstack(columns), 1e-6, 1.0))

    def fit_columns(self, frame: dict) -> tuple[np.ndarray, np.ndarray]:
        """Out-of-fold columns for the rows after the first block, and those rows' indices."""
        n = len(next(iter(frame.values())))
        edges = np.linspace(0, n, self.blocks + 1).astype(int)
        parts, rows = [], []
        for start, end in zip(edges[1:-1], edges[2:]):
            baselines = [b.fit(take(frame, slice(0, start))) for b in self.make_baselines()]
            parts.append(self._columns(baselines, take(frame, slice(start, end))))
            rows.append(np.arange(start, end))
        self.fitted = [b.fit(frame) for b in self.make_baselines()]
        return np.vstack(parts), np.concatenate(rows)

    def columns(self, frame: dict) -> np.ndarray:
        return self._columns(self.fitted, frame)


@dataclass(frozen=True)
class Columns:
    """A model's inputs: categories (one-hot for the logistic candidates, native for boosting),
    crossed categories (two categories as one, for the logistic candidates only: boosting
    finds the interaction itself) and numbers."""

    categorical: tuple[str, ...]
    crossed: tuple[str, ...]
    numeric: tuple[str, ...]

    def names(self) -> list[str]:
        return list(self.categorical + self.crossed + self.numeric)


class LearnedModel:
    """A candidate of a model: its columns, its estimator and, when stacked, its baselines; an
    offset candidate's baseline (`make_offset`) and the classes its columns are in."""

    name = "model"

    def __init__(self, candidate: Candidate, columns: Columns, target: str, make_baselines=None,
                 make_offset=None, classes: np.ndarray | None = None):
        self.candidate, self.columns, self.target = candidate, columns, target
        self.stack = BaselineStack(make_baselines) if candidate.stacked else None
        self.make_offset, self.classes_for_offset = make_offset, classes
        self.estimator = None

    def _use_columns(self, n_rows: int) -> None:
        """The columns this fit uses: boosting finds interactions itself; a short history gets no crossed ones."""
        crossed = () if self.candidate.kind == "boosting" or n_rows < CROSSED_MIN_ROWS else self.columns.crossed
        self.used = self.columns.categorical + crossed + self.columns.numeric
        self.n_categorical = len(self.columns.categorical) + len(crossed)

    def _matrix(self, frame: dict) -> np.ndarray:
        return np.column_stack([np.nan_to_num(np.asarray(frame[c], dtype=float), nan=-1.0) for c in self.used])

    def fit(self, frame: dict) -> "LearnedModel":
        self._use_columns(len(frame[self.target]))
        matrix, target = self._matrix(frame), np.asarray(frame[self.target]).astype(int)
        n_numeric = matrix.shape[1] - self.n_categorical
        if self.candidate.kind == "offset":
            self.offset = self.make_offset().fit(frame)
            self.estimator = OffsetLogistic(self.classes_for_offset, self.candidate.alpha, self.n_categorical, n_numeric)
            self.estimator.fit(matrix, target, log_proba_columns(self.offset.predict_proba(frame)))
            return self
        if self.stack:
            stacked, rows = self.stack.fit_columns(frame)
            matrix, target = np.hstack([matrix[rows], stacked]), target[rows]
        self.estimator = candidate_estimator(self.candidate, self.n_categorical, matrix.shape[1] - self.n_categorical)
        self.estimator.fit(matrix, target)
        return self

    def raw_proba(self, frame: dict) -> np.ndarray:
        """The estimator's probabilities, one column per class it saw (estimator.classes_)."""
        matrix = self._matrix(frame)
        if self.candidate.kind == "offset":
            return self.estimator.predict_proba(matrix, log_proba_columns(self.offset.predict_proba(frame)))
        if self.stack:
            matrix = np.hstack([matrix, self.stack.columns(frame)])
        return self.estimator.predict_proba(matrix)


@dataclass
class Selection:
    """What rolling origin found: the chosen candidate (None when the best baseline scored at
    least as well as every candidate) as judged (an offset one on `offset_baseline`), and each
    candidate's and baseline's mean fold loss."""
    chosen: str | None
    candidate: Candidate | None
    offset_baseline: str
    scores: dict[str, float | None]
    baseline_scores: dict[str, float | None]
    reason: str


def rolling_origin_scores(predictors: dict, frame: dict, loss, n_rows: int) -> dict[str, float | None]:
    """Each predictor's mean loss over rolling-origin folds of the rows (each fold trains on the
    past and scores the block after it); None where it could be judged on no fold. The fits of
    every predictor and fold run side by side (ml/parallel.py)."""
    folds = list(TimeSeriesSplit(n_splits=ROLLING_ORIGIN_FOLDS).split(np.arange(n_rows)))

    def fold_loss(make, fit_rows: np.ndarray, score_rows: np.ndarray) -> float | None:
        try:
            return loss(make().fit(take(frame, fit_rows)), take(frame, score_rows))
        except ValueError:  # e.g. a fold with one class only: the candidate cannot be judged there
            return None

    # the largest folds first, so the last fits to finish are the short ones
    names = [name for _ in folds for name in predictors]
    losses = run_all([partial(fold_loss, make, *fold) for fold in reversed(folds) for make in predictors.values()])
    scores = {}
    for name in predictors:
        judged = [value for job_name, value in zip(names, losses) if job_name == name and value is not None]
        scores[name] = float(np.mean(judged)) if judged else None
    return scores


def rolling_origin_select(candidates: dict[str, Candidate], make, baselines: dict, frame: dict, loss,
                          n_rows: int, fallback: str) -> Selection:
    """Score the baselines in rolling origin, then the candidates (`make(candidate)` builds one; the
    offset ones sit on the best baseline, `fallback` if none could be judged) on the same folds;
    the candidate with the lowest loss is chosen if it is lower than every baseline's: one that
    loses to a baseline there is not chosen."""
    baseline_scores = rolling_origin_scores(baselines, frame, loss, n_rows)
    judged_baselines = {name: score for name, score in baseline_scores.items() if score is not None}
    offset = min(judged_baselines, key=judged_baselines.get) if judged_baselines else fallback
    offered = {name: replace(c, offset=offset) if c.kind == "offset" else c for name, c in candidates.items()}
    scores = rolling_origin_scores({name: (lambda c=c: make(c)) for name, c in offered.items()}, frame, loss, n_rows)
    judged = {name: score for name, score in scores.items() if score is not None}

    def outcome(chosen: str | None, reason: str) -> Selection:
        return Selection(chosen, offered.get(chosen), offset, scores, baseline_scores, reason)

    if not judged:
        return outcome(None, "no candidate could be judged in rolling origin")
    best = min(judged, key=judged.get)
    if judged_baselines and judged[best] >= judged_baselines[offset]:
        return outcome(None, f"every candidate lost to the {offset} baseline in rolling origin (best: {best} "
                             f"{judged[best]:.4f} >= {judged_baselines[offset]:.4f})")
    return outcome(best, f"{best} chosen by rolling origin ({judged[best]:.4f})")
