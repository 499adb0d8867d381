"""The learned candidates both models choose between: their inputs (Columns), their estimators, and
the rolling-origin choice inside the training part."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import TimeSeriesSplit
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

ROLLING_ORIGIN_FOLDS = 3


@dataclass(frozen=True)
class Candidate:
    """One learned-model candidate. `logistic`: one-hot categories (crossed ones too), standardized
    numbers, a regularized logistic regression, optionally stacked on the baselines' out-of-fold
    predictions. `boosting`: gradient-boosted trees on the plain categories and numbers, which
    find interactions themselves. How calibrated each is, the reliability table shows."""

    kind: str = "logistic"
    C: float = 1.0
    stacked: bool = False


# chosen between by rolling origin inside the training part (each costs a fit per fold: a
# household retrains every listener, so the list is short)
CANDIDATES = {
    "logistic C=1": Candidate(C=1.0),
    "logistic C=1 stacked on the baselines": Candidate(C=1.0, stacked=True),
    "gradient boosting": Candidate(kind="boosting"),
}


def candidate_estimator(candidate: Candidate, n_categorical: int, n_numeric: int):
    """The estimator of a candidate for a matrix whose first n_categorical columns are categories."""
    if candidate.kind == "boosting":
        # small trees, many rows per leaf: a year of one person's listening is not much data
        return HistGradientBoostingClassifier(
            categorical_features=list(range(n_categorical)) or None, max_iter=40, learning_rate=0.2,
            max_leaf_nodes=8, min_samples_leaf=50, l2_regularization=1.0, early_stopping=False, random_state=0)
    return logistic_pipeline(n_categorical, n_numeric, candidate.C)


def logistic_pipeline(n_categorical: int, n_numeric: int, C: float) -> Pipeline:
    """One-hot the first n_categorical columns, standardize the rest, regularized logistic regression."""
    return Pipeline([
        ("columns", ColumnTransformer([
            ("categorical", OneHotEncoder(handle_unknown="ignore"), list(range(n_categorical))),
            ("numeric", StandardScaler(), list(range(n_categorical, n_categorical + n_numeric))),
        ])),
        # tol 1e-3: half the iterations of the default for a change in log loss of under 1%
        ("classifier", LogisticRegression(C=C, max_iter=2000, tol=1e-3)),
    ])


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
    """A candidate of a model: its columns, its estimator and, when stacked, its baselines."""

    name = "model"

    def __init__(self, candidate: Candidate, columns: Columns, target: str, make_baselines=None):
        self.candidate, self.columns, self.target = candidate, columns, target
        self.stack = BaselineStack(make_baselines) if candidate.stacked else None
        crossed = () if candidate.kind == "boosting" else columns.crossed
        self.used = columns.categorical + crossed + columns.numeric
        self.n_categorical = len(columns.categorical) + len(crossed)
        self.estimator = None

    def _matrix(self, frame: dict) -> np.ndarray:
        return np.column_stack([np.nan_to_num(np.asarray(frame[c], dtype=float), nan=-1.0) for c in self.used])

    def fit(self, frame: dict) -> "LearnedModel":
        matrix, target = self._matrix(frame), np.asarray(frame[self.target]).astype(int)
        if self.stack:
            stacked, rows = self.stack.fit_columns(frame)
            matrix, target = np.hstack([matrix[rows], stacked]), target[rows]
        self.estimator = candidate_estimator(self.candidate, self.n_categorical, matrix.shape[1] - self.n_categorical)
        self.estimator.fit(matrix, target)
        return self

    def raw_proba(self, frame: dict) -> np.ndarray:
        """The estimator's probabilities, one column per class it saw (estimator.classes_)."""
        matrix = self._matrix(frame)
        if self.stack:
            matrix = np.hstack([matrix, self.stack.columns(frame)])
        return self.estimator.predict_proba(matrix)


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
