"""The embedded demo listener: a seeded, deterministic listening history.

It emits the same raw records as the Spotify API and export importers (a `RawBatch`)
and lands through the same loaders, so every stage can run without an account.

Hidden rules (tests check that the models recover them):

1. Catalog. Eight genres in four mood families; every artist has one or two genres of
   one family; audio features are Beta-distributed around the family's profile
   (`MOOD_PROFILES`), so tracks of a family sit together in feature space:
   calm (ambient, classical), mellow (jazz, folk), upbeat (pop, hip hop),
   intense (edm, metal).
2. Daily and weekly rhythm. In each local hour a session starts with probability
   `session_start_probability(hour, weekday)`: on weekdays the peaks are 07, 12, 18
   and 21 h; on weekends 10, 20 and 22 h; nights are nearly silent. A session never
   starts while the previous one is running or less than 45 minutes after it ended.
3. Session length. Log-normal number of tracks (median about 15), tracks back to back
   with gaps of 0-5 seconds; so a gap of more than 30 minutes always means a new session.
4. Moods lean on the time of day. A session's first mood is drawn from `MOOD_BY_PART_OF_DAY`
   (calm mornings, upbeat afternoons, intense evenings, mellow nights). Each next track
   keeps the current mood with probability `MOOD_PERSISTENCE`; otherwise its mood is drawn
   again from the time-of-day distribution. So the next mood depends on both the last
   mood and the hour, which neither a transition table nor an hour table sees alone.
5. Skips and short plays. A track is skipped (3-29 s played, reason_end `fwdbtn`) with
   probability 0.08, or 0.35 right after the mood changed; 7 % of the rest stop early.
6. No structure (`rhythm=False`): a control listener whose sessions start with the same
   probability (`FLAT_SESSION_PROBABILITY`) in every hour and whose moods are drawn
   uniformly whatever the hour; only the persistence within sessions remains.
7. Time. Sessions are laid out in the listener's local time (default Europe/Berlin) and
   stored in UTC, so the history crosses both daylight-saving changes of the year.
   The history ends on `DEFAULT_END` (fixed, so the data never depend on today's date).
8. Listeners differ by `Profile` (`PROFILES`): their peaks move by `shift` hours (and
   their day with them: a night owl's evening is three hours later); `contrast` flattens
   peaks toward the quiet hours and `activity` scales both; they listen on a share
   `listening_days` of days only; they play only some mood families; `persistence` is
   their own; and with `drift_days` their peaks move an hour later every that many days.
   `steady` is rules 2-5 as stated; `real` is a sparse listener like a real person
   (fewer plays, weaker and drifting habits, three moods). A household (`HOUSEHOLD`) cycles
   through the steady listener, a night owl in New York and an early bird in Tokyo.
9. Truth. Asked to (`Truth`), the generator also records the probabilities it drew from: for
   each local hour, P(a session starts) = the hour's start probability times the share of
   listening days (whether today is one is luck, not knowledge) times the share of its start
   minutes not blocked by a running session; for each play, the distribution over mood
   families its mood was drawn from. That is the best any predictor could know: the oracle the
   models are measured against (ml/oracle.py). It is never landed and never trained on.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from pathlib import Path
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import numpy as np

from warehouse.loaders import RawBatch

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
_WORDS = (
    "Silver Night Echo River Neon Velvet Golden Paper Glass Northern Midnight Wild Quiet "
    "Electric Hollow Crimson Ocean Static Lunar Amber Desert Winter Rose Iron Blue Falling"
).split()


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


@dataclass(frozen=True)
class Catalog:
    tracks: list[dict]
    artists: list[dict]
    audio_features: list[dict]
    track_ids_by_genre: dict[str, list[str]]
    mood_of_track: dict[str, str]
    duration_of_track: dict[str, int]


def _spotify_id(rng: np.random.Generator) -> str:
    alphabet = np.array(list("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"))
    return "".join(rng.choice(alphabet, 22))


def _name(rng: np.random.Generator, words: int) -> str:
    return " ".join(rng.choice(_WORDS, words, replace=False))


def build_catalog(seed: int, artists_per_genre: int = 15, tracks_per_artist: int = 12) -> Catalog:
    rng = np.random.default_rng(seed)
    tracks, artists, features = [], [], []
    by_genre: dict[str, list[str]] = {g: [] for gs in GENRES_BY_MOOD.values() for g in gs}
    mood_of_track, duration_of_track = {}, {}
    for mood, genres in GENRES_BY_MOOD.items():
        profile = MOOD_PROFILES[mood]
        for genre in genres:
            for _ in range(artists_per_genre):
                artist_id = _spotify_id(rng)
                artist_genres = [genre] + ([g for g in genres if g != genre] if rng.random() < 0.3 else [])
                artist_name = _name(rng, 2)
                artists.append({"artist_id": artist_id, "artist_name": artist_name, "genres": artist_genres})
                album_id, album_name = _spotify_id(rng), _name(rng, 2)
                for _ in range(tracks_per_artist):
                    track_id = _spotify_id(rng)
                    duration = int(np.clip(rng.normal(215_000, 40_000), 90_000, 420_000))
                    tracks.append({
                        "track_id": track_id, "track_name": _name(rng, 3), "album_id": album_id,
                        "album_name": album_name, "album_image_url": None, "duration_ms": duration,
                        "artist_ids": [artist_id], "artist_names": [artist_name],
                    })
                    row = {"track_id": track_id}
                    for feature, mean in profile.items():
                        if feature == "tempo":
                            row["tempo"] = float(rng.normal(mean, 10))
                        else:  # Beta with this mean and concentration 14
                            row[feature] = float(rng.beta(mean * 14, (1 - mean) * 14))
                    row.update(speechiness=float(rng.beta(1.5, 12)), liveness=float(rng.beta(2, 10)),
                               loudness=float(-14 + 10 * row["energy"] + rng.normal(0, 1.5)))
                    features.append(row)
                    by_genre[genre].append(track_id)
                    mood_of_track[track_id] = mood
                    duration_of_track[track_id] = duration
    return Catalog(tracks, artists, features, by_genre, mood_of_track, duration_of_track)


def _track_weights(count: int) -> np.ndarray:
    """Zipf-like favourites: a few tracks of each genre come back often."""
    weights = 1.0 / np.arange(1, count + 1) ** 0.8
    return weights / weights.sum()


def _pick_track(rng: np.random.Generator, catalog: Catalog, mood: str) -> str:
    genre = GENRES_BY_MOOD[mood][rng.integers(2)]
    candidates = catalog.track_ids_by_genre[genre]
    return candidates[rng.choice(len(candidates), p=_track_weights(len(candidates)))]


def track_probabilities(catalog: Catalog, mood: str) -> dict[str, float]:
    """P(track | the mood family was drawn): what _pick_track does, as numbers."""
    found = {}
    for genre in GENRES_BY_MOOD[mood]:
        candidates = catalog.track_ids_by_genre[genre]
        for track_id, weight in zip(candidates, _track_weights(len(candidates))):
            found[track_id] = found.get(track_id, 0.0) + weight / len(GENRES_BY_MOOD[mood])
    return found


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
        track_id = _pick_track(rng, catalog, mood)
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


def write_privacy_export(folder: Path, records: int, per_file: int = 100_000, seed: int = 42,
                         end: date = DEFAULT_END, truth: Truth | None = None) -> list[Path]:
    """Files shaped like Spotify's extended streaming history (`Streaming_History_Audio_*.json`):
    the `records` most recent plays of a demo listener whose history ends on `end`, oldest first.
    A stand-in for a real person's export (no real data); private fields a real export has (IP
    address, country) are filled with documentation values, so an import proves it drops them.
    With `truth`, what the generator knew is recorded there (rule 9)."""
    catalog = build_catalog(seed)
    plays, years = [], 0
    while len(plays) < records:  # more demo years, further back, until there are enough plays
        plays = generate_plays(catalog, "export", ZoneInfo("Europe/Berlin"), 365, seed=100 + years,
                               end=end - timedelta(days=365 * years), truth=truth) + plays
        years += 1
    return _write_export(folder, plays[-records:], catalog, per_file)


def write_new_plays(folder: Path, plays: int, after: date, seed: int = 42) -> list[Path]:
    """An export of the first `plays` plays after the day `after`: what a listener adds later."""
    catalog = build_catalog(seed)
    new = generate_plays(catalog, "export", ZoneInfo("Europe/Berlin"), 3, seed=seed + after.toordinal(),
                         end=after + timedelta(days=3))
    return _write_export(folder, new[:plays], catalog, plays)


def _write_export(folder: Path, plays: list[dict], catalog: Catalog, per_file: int) -> list[Path]:
    names = {t["track_id"]: t for t in catalog.tracks}
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for number, start in enumerate(range(0, len(plays), per_file)):
        rows = []
        for play in plays[start:start + per_file]:
            track = names[play["track_id"]]
            rows.append({
                "ts": play["played_at"].strftime("%Y-%m-%dT%H:%M:%SZ"), "platform": "android",
                "ms_played": play["ms_played"], "conn_country": "DE", "ip_addr": "192.0.2.1",
                "master_metadata_track_name": track["track_name"],
                "master_metadata_album_artist_name": track["artist_names"][0],
                "master_metadata_album_album_name": track["album_name"],
                "spotify_track_uri": f"spotify:track:{play['track_id']}",
                "episode_name": None, "episode_show_name": None, "spotify_episode_uri": None,
                "reason_start": play["reason_start"], "reason_end": play["reason_end"], "shuffle": play["shuffle"],
                "skipped": play["skipped"], "offline": False, "offline_timestamp": None, "incognito_mode": False,
            })
        path = folder / f"Streaming_History_Audio_{number:03d}.json"
        path.write_text(json.dumps(rows))
        paths.append(path)
    return paths


def write_features_file(path: Path, seed: int = 42) -> Path:
    """The demo catalogue's audio features as a CSV for SPOTIFY_BRAIN_AUDIO_FEATURES=file."""
    features = build_catalog(seed).audio_features
    columns = list(features[0])
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=columns)
        writer.writeheader()
        writer.writerows(features)
    return path
