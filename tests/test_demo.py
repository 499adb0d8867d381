"""The demo listener is deterministic and follows the hidden rules in its docstring."""

from collections import Counter
from datetime import timezone
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from ingest.demo.catalog import build_catalog

from ingest.demo.generator import generate_demo_batches, generate_plays

from ingest.demo.rules import GENRES_BY_MOOD, MOOD_PERSISTENCE, WEEKDAY_PEAKS, WEEKEND_PEAKS

TZ = ZoneInfo("Europe/Berlin")


@pytest.fixture(scope="module")
def year():
    return generate_demo_batches("demo", "Europe/Berlin", "Demo")[0]


def _session_starts(plays):
    """First play of each run of plays separated by more than 30 minutes, in local time."""
    starts, previous_end = [], None
    for play in sorted(plays, key=lambda p: p["played_at"]):
        start = play["played_at"] - np.timedelta64(play["ms_played"], "ms").item()
        if previous_end is None or (start - previous_end).total_seconds() > 30 * 60:
            starts.append(start.replace(tzinfo=timezone.utc).astimezone(TZ))
        previous_end = play["played_at"]
    return starts


def test_default_is_one_listener_one_year_with_enough_plays(year):
    assert year.listener_id == "demo"
    assert len(year.plays) >= 20_000
    days = {p["played_at"].date() for p in year.plays}
    assert len(days) > 350


def test_same_seed_same_history_other_seed_other_history():
    a = generate_demo_batches("demo", "Europe/Berlin", "Demo", days=20, seed=1)[0].plays
    b = generate_demo_batches("demo", "Europe/Berlin", "Demo", days=20, seed=1)[0].plays
    c = generate_demo_batches("demo", "Europe/Berlin", "Demo", days=20, seed=2)[0].plays
    assert a == b
    assert a != c


def test_more_listeners_get_their_own_ids_and_histories():
    batches = generate_demo_batches("demo", "Europe/Berlin", "Demo", days=10, listeners=3)
    assert [b.listener_id for b in batches] == ["demo", "demo-2", "demo-3"]
    assert batches[0].plays != batches[1].plays


def test_sessions_start_most_at_the_peak_hours(year):
    starts = _session_starts(year.plays)
    weekday = Counter(s.hour for s in starts if s.weekday() < 5)
    weekend = Counter(s.hour for s in starts if s.weekday() >= 5)
    assert {h for h, _ in weekday.most_common(len(WEEKDAY_PEAKS))} == set(WEEKDAY_PEAKS)
    assert {h for h, _ in weekend.most_common(len(WEEKEND_PEAKS))} == set(WEEKEND_PEAKS)
    assert sum(weekday[h] for h in range(0, 5)) < 0.05 * sum(weekday.values())


def test_history_crosses_both_dst_changes(year):
    offsets = {p["played_at"].replace(tzinfo=timezone.utc).astimezone(TZ).utcoffset() for p in year.plays}
    assert len(offsets) == 2


def test_moods_persist_within_sessions(year):
    catalog = build_catalog(42)
    plays = sorted(year.plays, key=lambda p: p["played_at"])
    same = [catalog.mood_of_track[a["track_id"]] == catalog.mood_of_track[b["track_id"]]
            for a, b in zip(plays, plays[1:]) if b["reason_start"] == "trackdone"]
    # persistence plus the chance that a redrawn mood is the same one
    assert MOOD_PERSISTENCE < np.mean(same) < MOOD_PERSISTENCE + 0.12


def test_skips_are_short_and_flagged(year):
    skips = [p for p in year.plays if p["skipped"]]
    assert 0.05 < len(skips) / len(year.plays) < 0.2
    assert all(p["ms_played"] < 30_000 for p in skips)


def test_tracks_of_a_mood_family_share_their_genres():
    catalog = build_catalog(42)
    genre_mood = {g: m for m, gs in GENRES_BY_MOOD.items() for g in gs}
    for artist in catalog.artists:
        assert len({genre_mood[g] for g in artist["genres"]}) == 1


def test_every_play_has_a_known_track():
    catalog = build_catalog(3)
    plays = generate_plays(catalog, "x", TZ, days=5, seed=3)
    known = {t["track_id"] for t in catalog.tracks}
    assert plays and all(p["track_id"] in known for p in plays)


def test_recording_the_truth_changes_no_play_and_covers_every_one():
    from ingest.demo.rules import MOODS, PROFILES
    from ingest.demo.truth import Truth

    catalog = build_catalog(42)
    truth = Truth()
    plain = generate_plays(catalog, "t", TZ, 60, seed=5, profile=PROFILES["real"])
    recorded = generate_plays(catalog, "t", TZ, 60, seed=5, profile=PROFILES["real"], truth=truth)
    assert plain == recorded
    assert {(p["track_id"], p["played_at"].replace(microsecond=0)) for p in plain} == set(truth.plays)
    assert all(d.shape == (len(MOODS),) and d.sum() == pytest.approx(1) for d in truth.plays.values())
    # one entry per local hour of the 60 days; a sparse listener's hours carry the share of listening days
    assert len(truth.hours) == 60 * 24
    assert max(p for _, p in truth.hours) <= max(WEEKDAY_PEAKS.values()) * PROFILES["real"].listening_days


def test_a_running_session_blocks_the_minutes_of_the_hour_it_covers():
    from datetime import datetime, timedelta

    from ingest.demo.generator import _unblocked_share

    hour = datetime(2026, 3, 2, 18)
    assert _unblocked_share(hour, hour - timedelta(minutes=5)) == 1
    assert _unblocked_share(hour, hour + timedelta(minutes=30)) == 0.5
    assert _unblocked_share(hour, hour + timedelta(minutes=30, seconds=1)) == pytest.approx(29 / 60)
    assert _unblocked_share(hour, hour + timedelta(hours=2)) == 0
