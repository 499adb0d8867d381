"""What the generator knew while it generated (rule 9): the oracle's input, kept beside the model
artifacts as plain arrays, never in the warehouse."""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field as dataclass_field
from datetime import datetime
from pathlib import Path

import numpy as np

from ingest.demo.catalog import Catalog, track_probabilities
from ingest.demo.rules import MOODS

@dataclass
class Truth:
    """What the generator knew while it generated (the oracle, rule 9): for every local hour it
    considered, the probability that a session started in it; for every play, the distribution
    its mood family was drawn from. Recording it draws no random numbers, so the plays are the
    same with or without it. Nothing of it is ever landed or trained on."""

    # (UTC start of the local hour, naive; P(a session starts in it))
    hours: list[tuple[datetime, float]] = dataclass_field(default_factory=list)
    # (track_id, played_at naive UTC to the second) -> P(mood family) over MOODS
    plays: dict[tuple[str, datetime], np.ndarray] = dataclass_field(default_factory=dict)


def truth_path(data_dir: Path, listener_id: str) -> Path:
    """Where a demo listener's truth is kept: beside the model artifacts, never in the warehouse."""
    return data_dir.resolve() / "demo_truth" / f"{listener_id}.npz"


def save_truth(truth: Truth, catalog: Catalog, path: Path) -> None:
    """Rule 9's record, with P(track | mood family) so moods can be mapped to learned clusters.
    Plain arrays (a pickle of one small array per play took a second to load at 20k plays)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    scratch = path.with_suffix(".partial.npz")
    keys = list(truth.plays)
    families = [track_probabilities(catalog, mood) for mood in MOODS]
    track_ids = sorted({track_id for family in families for track_id in family})
    np.savez(
        scratch,
        hour_starts=np.array([hour for hour, _ in truth.hours], dtype="datetime64[s]"),
        hour_probabilities=np.array([p for _, p in truth.hours], dtype=float),
        play_track_ids=np.array([track_id for track_id, _ in keys], dtype=str),
        play_times=np.array([played_at for _, played_at in keys], dtype="datetime64[s]"),
        play_families=np.array([truth.plays[key] for key in keys], dtype=float).reshape(len(keys), len(MOODS)),
        track_ids=np.array(track_ids, dtype=str),
        track_given_family=np.array([[family.get(t, 0.0) for t in track_ids] for family in families]),
    )
    scratch.replace(path)
