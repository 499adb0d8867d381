"""Simple predictors every learned model has to beat, fitted on the training part only.

Each has `fit(frame)` and `predict_proba(frame)`; a frame is a dict of numpy columns.
"""

from __future__ import annotations

import numpy as np

RECENCY_HALF_LIFE_DAYS = 30.0


class MajorityBaseline:
    """Mood frequencies of the training data, recent plays weighted more (30-day half-life)."""

    name = "majority"

    def __init__(self, classes: np.ndarray):
        self.classes = classes

    def fit(self, frame: dict) -> "MajorityBaseline":
        started = frame["started_at"].astype("datetime64[s]").astype(np.int64)
        age_days = (started.max() - started) / 86400.0
        weights = 0.5 ** (age_days / RECENCY_HALF_LIFE_DAYS)
        counts = np.array([weights[frame["target"] == c].sum() for c in self.classes]) + 1e-3
        self.distribution = counts / counts.sum()
        return self

    def predict_proba(self, frame: dict) -> np.ndarray:
        return np.tile(self.distribution, (len(frame["prev_mood_1"]), 1))


class PersistenceBaseline:
    """The next mood is the last one, with the stay rate seen in training; the rest spread evenly."""

    name = "persistence"

    def __init__(self, classes: np.ndarray):
        self.classes = classes

    def fit(self, frame: dict) -> "PersistenceBaseline":
        stay = np.mean(frame["target"] == frame["prev_mood_1"]) if len(frame["target"]) else 0.5
        self.stay = float(np.clip(stay, 0.01, 0.99))
        return self

    def predict_proba(self, frame: dict) -> np.ndarray:
        k = len(self.classes)
        proba = np.full((len(frame["prev_mood_1"]), k), (1 - self.stay) / max(k - 1, 1))
        same = frame["prev_mood_1"][:, None] == self.classes[None, :]
        proba[same] = self.stay
        return proba / proba.sum(axis=1, keepdims=True)


class _ConditionalFrequency:
    """P(next mood | one key column), Laplace-smoothed; unseen keys get the overall frequency."""

    key: str

    def __init__(self, classes: np.ndarray, alpha: float = 1.0):
        self.classes = classes
        self.alpha = alpha

    def fit(self, frame: dict) -> "_ConditionalFrequency":
        overall = np.array([np.sum(frame["target"] == c) for c in self.classes]) + self.alpha
        self.overall = overall / overall.sum()
        self.table = {}
        for key in np.unique(frame[self.key]):
            rows = frame["target"][frame[self.key] == key]
            counts = np.array([np.sum(rows == c) for c in self.classes]) + self.alpha
            self.table[key] = counts / counts.sum()
        return self

    def predict_proba(self, frame: dict) -> np.ndarray:
        return np.array([self.table.get(key, self.overall) for key in frame[self.key]]).reshape(-1, len(self.classes))


class TransitionBaseline(_ConditionalFrequency):
    """A smoothed first-order transition table: P(next mood | last mood)."""

    name = "transition"
    key = "prev_mood_1"


class HourFrequencyBaseline(_ConditionalFrequency):
    """Mood frequencies of the local hour: P(next mood | hour)."""

    name = "hour_frequency"
    key = "local_hour"


MOOD_BASELINES = (MajorityBaseline, PersistenceBaseline, TransitionBaseline, HourFrequencyBaseline)


class _RateBaseline:
    """Historical session-start rate per key, shrunk toward the overall rate (prior weight 2 hours)."""

    name: str
    prior_weight = 2.0

    def keys(self, frame: dict) -> np.ndarray:
        raise NotImplementedError

    def fit(self, frame: dict) -> "_RateBaseline":
        y = frame["session_started"].astype(float)
        self.overall = float(y.mean()) if len(y) else 0.0
        keys = self.keys(frame)
        self.rates = {}
        for key in np.unique(keys):
            rows = y[keys == key]
            self.rates[key] = (rows.sum() + self.prior_weight * self.overall) / (len(rows) + self.prior_weight)
        return self

    def predict_proba(self, frame: dict) -> np.ndarray:
        return np.array([self.rates.get(k, self.overall) for k in self.keys(frame)], dtype=float)


class HourOfWeekRate(_RateBaseline):
    name = "hour_of_week_rate"

    def keys(self, frame: dict) -> np.ndarray:
        return frame["local_dow"].astype(int) * 24 + frame["local_hour"].astype(int)


class HourOfDayRate(_RateBaseline):
    name = "hour_of_day_rate"

    def keys(self, frame: dict) -> np.ndarray:
        return frame["local_hour"].astype(int)


SESSION_BASELINES = (HourOfWeekRate, HourOfDayRate)
