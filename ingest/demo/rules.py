"""The demo listeners' habits as numbers: when sessions start and which moods they play (rules
2, 4, 6 and 8 of ingest/demo/__init__.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np

DEFAULT_END = date(2026, 10, 31)
MOODS = ("calm", "mellow", "upbeat", "intense")
GENRES_BY_MOOD = {
    "calm": ("ambient", "classical"),
    "mellow": ("jazz", "folk"),
    "upbeat": ("pop", "hip hop"),
    "intense": ("edm", "metal"),
}
# mean of each audio feature per mood family; tempo in BPM
MOOD_PROFILES = {
    "calm": dict(valence=0.25, energy=0.15, danceability=0.25, acousticness=0.90, instrumentalness=0.85, tempo=75),
    "mellow": dict(valence=0.50, energy=0.40, danceability=0.50, acousticness=0.65, instrumentalness=0.15, tempo=100),
    "upbeat": dict(valence=0.85, energy=0.72, danceability=0.80, acousticness=0.15, instrumentalness=0.03, tempo=118),
    "intense": dict(valence=0.35, energy=0.92, danceability=0.55, acousticness=0.04, instrumentalness=0.40, tempo=150),
}
MOOD_PERSISTENCE = 0.8
MOOD_BY_PART_OF_DAY = {  # probabilities over MOODS
    "morning": (0.55, 0.25, 0.15, 0.05),    # 05-10
    "afternoon": (0.10, 0.20, 0.55, 0.15),  # 11-16
    "evening": (0.05, 0.10, 0.30, 0.55),    # 17-21
    "night": (0.30, 0.55, 0.10, 0.05),      # 22-04
}
WEEKDAY_PEAKS = {7: 0.85, 12: 0.65, 18: 0.8, 21: 0.75}
WEEKEND_PEAKS = {10: 0.8, 20: 0.7, 22: 0.75}
FLAT_SESSION_PROBABILITY = 0.15  # about the rhythmic listener's average over the day
FLAT_MOODS = (0.25, 0.25, 0.25, 0.25)


def part_of_day(hour: int) -> str:
    if 5 <= hour <= 10:
        return "morning"
    if 11 <= hour <= 16:
        return "afternoon"
    if 17 <= hour <= 21:
        return "evening"
    return "night"


@dataclass(frozen=True)
class Profile:
    """How one demo listener listens: the knobs of rule 8."""

    shift: int = 0                  # hours the daily peaks (and the parts of the day) are moved by
    contrast: float = 1.0           # 1: peaks as stated; 0: every hour like the quiet ones
    activity: float = 1.0           # every start probability scaled by this
    listening_days: float = 1.0     # share of days with any listening at all
    moods: tuple[str, ...] = MOODS  # the mood families this listener plays
    persistence: float = MOOD_PERSISTENCE
    drift_days: int = 0             # peaks move an hour later every this many days (0: never)
    rhythm: bool = True             # False: the flat control listener of rule 6


PROFILES = {
    "steady": Profile(),
    "night_owl": Profile(shift=3),
    "early_bird": Profile(shift=-2),
    "real": Profile(contrast=0.45, activity=0.7, listening_days=0.55, moods=("mellow", "upbeat", "intense"),
                    persistence=0.6, drift_days=75),
    "flat": Profile(rhythm=False),
}
# (timezone or None for the configured one, profile) of household members, in turn
HOUSEHOLD = ((None, "steady"), ("America/New_York", "night_owl"), ("Asia/Tokyo", "early_bird"))


def session_start_probability(hour: int, weekday: int, profile: Profile = PROFILES["steady"],
                              day_index: int = 0) -> float:
    """Probability that a session starts in a local hour; weekday 0 = Monday."""
    if not profile.rhythm:
        return FLAT_SESSION_PROBABILITY
    moved = profile.shift + (day_index // profile.drift_days if profile.drift_days else 0)
    base_hour = (hour - moved) % 24  # the hour of the stated rhythm this hour plays
    weekend = weekday >= 5
    peaks = WEEKEND_PEAKS if weekend else WEEKDAY_PEAKS
    quiet = 0.01 if base_hour < 6 else (0.05 if weekend else 0.04)
    stated = peaks.get(base_hour, quiet)
    return profile.activity * (quiet + profile.contrast * (stated - quiet))


def mood_probabilities(hour: int, profile: Profile = PROFILES["steady"]) -> np.ndarray:
    """P(first mood of a session | local hour) over MOODS, within the listener's mood families."""
    base = np.array(FLAT_MOODS if not profile.rhythm else MOOD_BY_PART_OF_DAY[part_of_day((hour - profile.shift) % 24)])
    played = np.array([mood in profile.moods for mood in MOODS], dtype=float)
    return base * played / (base * played).sum()
