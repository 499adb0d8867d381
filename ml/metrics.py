"""Metrics that return None, never a made-up number, when they are undefined on the data."""

from __future__ import annotations

import math

import numpy as np
from sklearn.metrics import (average_precision_score, brier_score_loss, f1_score, log_loss, precision_recall_curve,
                             roc_auc_score)


def clean(value) -> float | None:
    """A finite float, or None."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def calibration_error(confidence: np.ndarray, correct: np.ndarray, bins: int = 10) -> float | None:
    """Expected calibration error: mean |accuracy - confidence| over equal-width bins, weighted by size."""
    if len(confidence) == 0:
        return None
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1]), 0, bins - 1)
    error = 0.0
    for b in range(bins):
        mask = which == b
        if mask.any():
            error += mask.mean() * abs(correct[mask].mean() - confidence[mask].mean())
    return clean(error)


def multiclass_log_loss(y_true: np.ndarray, proba: np.ndarray, classes: np.ndarray) -> float | None:
    """Log loss alone (what rolling origin and the training figure need, many times a run)."""
    if len(y_true) == 0:
        return None
    clipped = np.clip(proba, 1e-15, 1)
    return clean(log_loss(y_true, clipped / clipped.sum(axis=1, keepdims=True), labels=classes))


def binary_log_loss(y_true: np.ndarray, p: np.ndarray) -> float | None:
    if len(y_true) == 0:
        return None
    return clean(log_loss(y_true.astype(int), np.clip(p, 1e-15, 1 - 1e-15), labels=[0, 1]))


def multiclass_metrics(y_true: np.ndarray, proba: np.ndarray, classes: np.ndarray) -> dict:
    """top-1/top-3 accuracy, macro F1, log loss, Brier score (the squared error summed over the
    classes, averaged over rows) and calibration error of a probability matrix."""
    if len(y_true) == 0:
        return {k: None for k in ("accuracy", "top3_accuracy", "f1_macro", "log_loss", "brier", "calibration_error")}
    order = np.argsort(-proba, axis=1)
    predicted = classes[order[:, 0]]
    top3 = classes[order[:, :3]]
    return {
        "accuracy": clean(np.mean(predicted == y_true)),
        "top3_accuracy": clean(np.mean((top3 == y_true[:, None]).any(axis=1))),
        "f1_macro": clean(f1_score(y_true, predicted, labels=classes, average="macro", zero_division=0)),
        "log_loss": multiclass_log_loss(y_true, proba, classes),
        "brier": clean(np.mean(np.sum((proba - (y_true[:, None] == classes[None, :])) ** 2, axis=1))),
        "calibration_error": calibration_error(proba.max(axis=1), (predicted == y_true).astype(float)),
    }


def binary_metrics(y_true: np.ndarray, p: np.ndarray, threshold: float = 0.5) -> dict:
    """ROC-AUC and PR-AUC (None with one class), Brier, log loss, calibration error, F1 at threshold."""
    y_true = y_true.astype(int)
    if len(y_true) == 0:
        return {k: None for k in ("roc_auc", "pr_auc", "brier", "log_loss", "calibration_error", "f1")}
    two_classes = len(np.unique(y_true)) == 2
    return {
        "roc_auc": clean(roc_auc_score(y_true, p)) if two_classes else None,
        "pr_auc": clean(average_precision_score(y_true, p)) if two_classes else None,
        "brier": clean(brier_score_loss(y_true, p)),
        "log_loss": binary_log_loss(y_true, p),
        "calibration_error": calibration_error(p, y_true.astype(float)),
        "f1": clean(f1_score(y_true, (p >= threshold).astype(int), zero_division=0)) if two_classes else None,
    }


def best_f1_threshold(y_true: np.ndarray, p: np.ndarray) -> float:
    """The probability threshold that maximises F1 on (training) data; 0.5 when undefined.
    One pass over the sorted probabilities, not one F1 per candidate threshold."""
    if len(np.unique(y_true)) < 2:
        return 0.5
    precision, recall, thresholds = precision_recall_curve(y_true, p)
    f1 = np.divide(2 * precision * recall, precision + recall, out=np.zeros_like(precision),
                   where=precision + recall > 0)[:-1]
    return float(thresholds[int(np.argmax(f1))])


def reliability_table(y_true: np.ndarray, proba: np.ndarray, classes: np.ndarray | None = None,
                      bins: int = 10) -> list[dict]:
    """Predicted against observed, per decile of the predicted probability (equal-count groups):
    a calibrated predictor's rows lie on the diagonal. Binary: `proba` is P(positive). Several
    classes: every (row, class) pair counts once, one-vs-rest."""
    if classes is None:
        predicted, observed = np.asarray(proba, dtype=float), np.asarray(y_true).astype(float)
    else:
        predicted = np.asarray(proba, dtype=float).ravel()
        observed = (np.asarray(y_true)[:, None] == classes[None, :]).astype(float).ravel()
    if len(predicted) == 0:
        return []
    order = np.argsort(predicted, kind="stable")
    return [{"predicted": clean(predicted[part].mean()), "observed": clean(observed[part].mean()), "count": len(part)}
            for part in np.array_split(order, min(bins, len(order))) if len(part)]
