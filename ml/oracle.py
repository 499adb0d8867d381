"""The oracle: on a demo listener, the probabilities the generator itself drew from (ingest/demo,
rule 9), the best any predictor could do. Used only to measure, after the served predictor was
chosen: how far the model and the baselines are from it, and what share of the gap between the
best baseline and the oracle the model closes. Nothing here reaches training.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import duckdb
import numpy as np

from ingest.demo.truth import truth_path
from ml.metrics import binary_metrics, multiclass_metrics


@dataclass
class Oracle:
    """What the generator knew about one listener: P(session starts) per UTC hour, the mood-family
    distribution per play, and P(track | family) to turn families into the listener's clusters."""

    hours: dict                      # naive UTC hour start -> probability
    plays: dict                      # (track_id, played_at) -> P(family) over the generator's families
    tracks_by_family: list[dict]     # per family: track_id -> P(track | family)

    def session_probabilities(self, hour_starts: np.ndarray) -> np.ndarray | None:
        """P(a session starts) per UTC hour; None if an hour lies outside what the generator made
        (the warehouse holds plays this truth does not describe). Inside it, an hour the generator
        never considered (the repeated local hour when clocks go back) had no chance: 0."""
        first, last = min(self.hours), max(self.hours)
        wanted = [_as_datetime(h) for h in hour_starts]
        if any(h < first or h > last for h in wanted):
            return None
        return np.array([self.hours.get(h, 0.0) for h in wanted], dtype=float)

    def mood_probabilities(self, con: duckdb.DuckDBPyConnection, play_ids: np.ndarray,
                           classes: np.ndarray) -> np.ndarray | None:
        """P(cluster) for each play: its family distribution through P(cluster | family); None if
        a play is not one the generator made."""
        keys = {play_id: (track_id, played_at) for play_id, track_id, played_at in con.execute(
            "select play_id, track_id, played_at from marts.fct_plays where play_id in (select unnest(?))",
            [[str(play_id) for play_id in play_ids]]).fetchall()}
        moods = dict(con.execute("select track_id, mood_cluster_id from staging.stg_ml__track_moods").fetchall())
        family_to_cluster = np.zeros((len(self.tracks_by_family), len(classes)))
        for family, tracks in enumerate(self.tracks_by_family):
            for track_id, probability in tracks.items():
                if track_id in moods:
                    family_to_cluster[family, np.searchsorted(classes, moods[track_id])] += probability
        family_to_cluster /= family_to_cluster.sum(axis=1, keepdims=True).clip(min=1e-12)
        rows = []
        for play_id in play_ids:
            drawn_from = self.plays.get((keys[play_id][0], _as_datetime(keys[play_id][1])))
            if drawn_from is None:
                return None
            rows.append(drawn_from @ family_to_cluster)
        return np.array(rows)


def _as_datetime(value) -> datetime:
    """A naive datetime to the second (as the generator keys its truth) from DuckDB or numpy."""
    if isinstance(value, np.datetime64):
        value = value.astype("datetime64[us]").item()
    return value.replace(tzinfo=None, microsecond=0)


def load_oracle(data_dir: Path, listener_id: str) -> Oracle | None:
    """The listener's oracle if it is a demo listener whose truth was recorded, else None."""
    path = truth_path(data_dir, listener_id)
    if not path.exists():
        return None
    with np.load(path, allow_pickle=False) as truth:
        hours = dict(zip(truth["hour_starts"].astype(object), truth["hour_probabilities"].tolist()))
        plays = dict(zip(zip(truth["play_track_ids"].tolist(), truth["play_times"].astype(object)),
                         truth["play_families"]))
        track_ids = truth["track_ids"].tolist()
        tracks_by_family = [dict(zip(track_ids, row)) for row in truth["track_given_family"].tolist()]
    return Oracle(hours=hours, plays=plays, tracks_by_family=tracks_by_family)


def session_figures(oracle: Oracle, holdout: dict) -> dict | None:
    """The oracle's holdout log loss and Brier score for the session-start model."""
    probabilities = oracle.session_probabilities(holdout["hour_start_utc"])
    if probabilities is None or len(probabilities) == 0:
        return None
    metrics = binary_metrics(holdout["session_started"], np.clip(probabilities, 1e-6, 1 - 1e-6))
    return {"log_loss": metrics["log_loss"], "brier": metrics["brier"]}


def mood_figures(oracle: Oracle, con: duckdb.DuckDBPyConnection, holdout: dict, classes: np.ndarray) -> dict | None:
    """The oracle's holdout log loss and Brier score for the next-mood model."""
    probabilities = oracle.mood_probabilities(con, holdout["play_id"], classes)
    if probabilities is None or len(probabilities) == 0:
        return None
    metrics = multiclass_metrics(holdout["target"], probabilities, classes)
    return {"log_loss": metrics["log_loss"], "brier": metrics["brier"]}


def gap_closed(best_baseline: float | None, model: float | None, oracle: float | None) -> float | None:
    """The share of the gap from the best baseline's loss down to the oracle's that the model
    closes: 1 = as good as the oracle, 0 = no better than the baseline, negative = worse."""
    if None in (best_baseline, model, oracle) or best_baseline - oracle <= 1e-12:
        return None
    return (best_baseline - model) / (best_baseline - oracle)


def with_gap(figures: dict, model_metrics: dict, baselines: dict) -> dict:
    """The oracle's figures, and the share of the log-loss gap the model closes."""
    losses = [b["log_loss"] for b in baselines.values() if b.get("log_loss") is not None]
    return {**figures, "gap_closed": gap_closed(min(losses) if losses else None, model_metrics.get("log_loss"),
                                                figures.get("log_loss"))}
