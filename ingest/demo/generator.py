"""The demo listeners' plays (rules 3, 5 and 7), one RawBatch per listener."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import numpy as np

from ingest.demo.catalog import Catalog, build_catalog, pick_track
from ingest.demo.rules import (DEFAULT_END, HOUSEHOLD, MOODS, PROFILES, Profile, mood_probabilities,
                               session_start_probability)
from ingest.demo.truth import Truth
from warehouse.loaders import RawBatch

def _unblocked_share(hour_start: datetime, blocked_until: datetime) -> float:
    """The share of the hour's start minutes (0-59, drawn uniformly) at or after `blocked_until`."""
    blocked_minutes = -(-(blocked_until - hour_start).total_seconds() // 60)  # minutes before it, rounded up
    return (60 - min(max(blocked_minutes, 0), 60)) / 60


def generate_plays(
    catalog: Catalog, listener_id: str, tz: ZoneInfo, days: int, seed: int, end: date = DEFAULT_END,
    rhythm: bool = True, profile: Profile | None = None, truth: Truth | None = None,
) -> list[dict]:
    """Plays of one listener over `days` local days ending on `end` (inclusive); with `truth`,
    what the generator knew is recorded there too."""
    profile = profile or (PROFILES["steady"] if rhythm else PROFILES["flat"])
    rng = np.random.default_rng(seed)
    plays: list[dict] = []
    busy_until = datetime.min.replace(tzinfo=timezone.utc)
    first_day = end - timedelta(days=days - 1)
    for day_offset in range(days):
        day = first_day + timedelta(days=day_offset)
        listening = profile.listening_days >= 1 or rng.random() < profile.listening_days
        for hour in range(24):
            stated = session_start_probability(hour, day.weekday(), profile, day_offset)
            probability = stated if listening else 0.0
            if truth is not None:
                # before the day's draw: whether a day is a listening day is luck, not knowledge
                knowable = stated * min(profile.listening_days, 1.0)
                hour_start = datetime(day.year, day.month, day.day, hour, tzinfo=tz).astimezone(timezone.utc)
                truth.hours.append((hour_start.replace(tzinfo=None), knowable * _unblocked_share(
                    hour_start, busy_until + timedelta(minutes=45))))
            if not listening or rng.random() >= probability:
                continue
            local_start = datetime(day.year, day.month, day.day, hour, int(rng.integers(60)), tzinfo=tz)
            start = local_start.astimezone(timezone.utc)
            if start < busy_until + timedelta(minutes=45):
                continue
            busy_until = _play_session(rng, catalog, listener_id, start, mood_probabilities(hour, profile),
                                       profile.persistence, plays, truth)
    return plays


def _play_session(rng, catalog: Catalog, listener_id: str, start: datetime, probs: np.ndarray, persistence: float,
                  plays: list[dict], truth: Truth | None = None) -> datetime:
    n_tracks = max(1, int(round(rng.lognormal(np.log(15), 0.6))))
    drawn_from = probs
    mood = MOODS[rng.choice(4, p=probs)]
    context = f"spotify:playlist:demo-{mood}"
    now = start
    mood_changed = False
    for position in range(n_tracks):
        if position > 0:
            # rule 4: keep the mood with `persistence`, else draw again by the hour
            drawn_from = persistence * (np.array(MOODS) == mood) + (1 - persistence) * probs
            if rng.random() < persistence:
                mood_changed = False
            else:
                new_mood = MOODS[rng.choice(4, p=probs)]
                mood_changed = new_mood != mood
                mood = new_mood
        track_id = pick_track(rng, catalog, mood)
        duration = catalog.duration_of_track[track_id]
        skipped = rng.random() < (0.35 if mood_changed else 0.08)
        if skipped:
            ms_played, reason_end = int(rng.integers(3_000, 30_000)), "fwdbtn"
        elif rng.random() < 0.07:
            ms_played, reason_end = int(duration * rng.uniform(0.3, 0.9)), "endplay"
        else:
            ms_played, reason_end = duration, "trackdone"
        now = now + timedelta(milliseconds=ms_played)
        if truth is not None:
            # keyed by what survives every path into the warehouse: naive UTC to the second
            truth.plays[(track_id, now.replace(tzinfo=None, microsecond=0))] = drawn_from
        plays.append({
            "listener_id": listener_id, "track_id": track_id,
            "played_at": now.replace(tzinfo=None), "ms_played": ms_played, "skipped": skipped,
            "reason_start": "clickrow" if position == 0 else "trackdone", "reason_end": reason_end,
            "shuffle": False, "context_uri": context, "platform": "android",
        })
        now = now + timedelta(seconds=float(rng.uniform(0, 5)))
    return now


def demo_listener_ids(base_id: str, listeners: int) -> list[str]:
    return [base_id] + [f"{base_id}-{i}" for i in range(2, listeners + 1)]


def iter_demo_batches(
    listener_id: str, timezone_name: str, display_name: str, days: int = 365, listeners: int = 1,
    seed: int = 42, end: date = DEFAULT_END, rhythm: bool = True, profile: str | None = None,
    truths: dict[str, Truth] | None = None,
) -> Iterator[RawBatch]:
    """One RawBatch per demo listener, made when asked for (a big demo need not fit in memory);
    all share one catalog (and its features). The first listener has `profile` (default steady,
    or flat without `rhythm`) in `timezone_name`; the others are a household (HOUSEHOLD, in turn).
    With `truths`, each listener's Truth is recorded there under its id."""
    catalog = build_catalog(seed)
    for index, lid in enumerate(demo_listener_ids(listener_id, listeners)):
        zone, kind = HOUSEHOLD[index % len(HOUSEHOLD)] if index else (None, profile)
        kind = kind or ("steady" if rhythm else "flat")
        zone = zone or timezone_name
        name = display_name if index == 0 else f"{display_name} {index + 1}"
        truth = None if truths is None else truths.setdefault(lid, Truth())
        yield RawBatch(
            source="demo", listener_id=lid,
            plays=generate_plays(catalog, lid, ZoneInfo(zone), days, seed + 1000 * (index + 1), end,
                                 profile=PROFILES[kind], truth=truth),
            tracks=catalog.tracks, artists=catalog.artists, audio_features=catalog.audio_features,
            listeners=[{"listener_id": lid, "display_name": name, "timezone": zone}],
            feature_provider="demo",
        )


def generate_demo_batches(
    listener_id: str, timezone_name: str, display_name: str, days: int = 365, listeners: int = 1,
    seed: int = 42, end: date = DEFAULT_END, rhythm: bool = True, profile: str | None = None,
    truths: dict[str, Truth] | None = None,
) -> list[RawBatch]:
    """Every demo listener's batch at once (see iter_demo_batches)."""
    return list(iter_demo_batches(listener_id, timezone_name, display_name, days, listeners, seed, end, rhythm,
                                  profile, truths))
