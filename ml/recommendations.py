"""Tracks new to the listener for the mood predicted next ("discover"): ReccoBeats' keyless
recommendations, seeded with the listener's latest tracks of that mood and steered toward the
mood's centroid (twice: at the centroid and a little beside it, for variety), then kept only when
the listener never played them and their own audio features put them in that mood: the nearest
centroid is the mood's, no farther from it than most of the mood's own tracks are.

Fetched once per predicted mood of the current clustering and kept in ml.recommendations, so a
refresh whose prediction did not change asks nothing; each fetch's outcome (and why it found
nothing) is in ml.recommendation_fetches. The listener's own tracks in the mood ("rediscover") are
the export's (export/predictions.py).
"""

from __future__ import annotations

import hashlib
import time

import duckdb
import numpy as np

from ingest.enrichment.album_art import thumbnail
from ingest.enrichment.http import Provider, ProviderStopped
from ingest.enrichment.reccobeats import from_reccobeats, recommend
from ml.moods import FEATURES, MoodModel
from ml.registry import latest_run, load_artifact
from warehouse.loaders import utc_now
from warehouse.settings import Settings

KEPT = 10             # discover tracks kept per mood
SEEDS = 5             # ReccoBeats takes up to five
ASKED = 25            # tracks asked for per request
VARIATION = 0.05      # how far the second request's targets lie from the centroid
RADIUS_QUANTILE = 0.9  # the mood's own tracks within this distance of its centroid: what "in the mood" allows


def recommend_for_listener(con: duckdb.DuckDBPyConnection, settings: Settings, listener_id: str,
                           sleep=time.sleep) -> dict | None:
    """Fetch the discover list for the listener's predicted mood unless the current clustering's
    list for it is stored already; None without a prediction. Returns the fetch's outcome."""
    top = con.execute("select mood_cluster_id from ml.next_mood_predictions where listener_id = ? "
                      "order by probability desc, mood_cluster_id limit 1", [listener_id]).fetchone()
    run = latest_run(con, "mood_clusters", None)
    if top is None or run is None:
        return None
    mood, mood_run = int(top[0]), run["run_id"]
    done = con.execute("select outcome, note from ml.recommendation_fetches where listener_id = ? and mood_run_id = ? "
                       "and mood_cluster_id = ? and outcome in ('found', 'none_in_mood')",
                       [listener_id, mood_run, mood]).fetchone()
    if done:
        return {"mood_cluster_id": mood, "outcome": done[0], "note": done[1], "fetched": False}
    outcome, note, kept = _fetch(con, settings, listener_id, mood, load_artifact(run), sleep)
    _store(con, listener_id, mood_run, mood, outcome, note, kept)
    return {"mood_cluster_id": mood, "outcome": outcome, "note": note, "fetched": True, "kept": len(kept)}


def _fetch(con, settings: Settings, listener_id: str, mood: int, model: MoodModel,
           sleep) -> tuple[str, str | None, list[dict]]:
    if not settings.keyless_lookups:
        return "off", "keyless lookups are off (SPOTIFY_BRAIN_KEYLESS_LOOKUPS=false)", []
    seeds = [r[0] for r in con.execute(
        """
        select plays.track_id from marts.fct_plays plays
        join staging.stg_ml__track_moods moods using (track_id)
        where plays.listener_id = ? and moods.mood_cluster_id = ? and plays.track_id not like 'name:%'
        group by plays.track_id order by max(plays.played_at) desc, plays.track_id limit ?
        """, [listener_id, mood, SEEDS]).fetchall()]
    if not seeds:
        return "no_seeds", "no track of this mood with a Spotify id to start from", []
    centroid = model.centroids[list(model.cluster_ids).index(mood)]
    provider = Provider("ReccoBeats", settings, min_interval_s=0.2, budget=4, sleep=sleep)
    candidates: dict[str, dict] = {}
    try:
        for targets in _targets(centroid, listener_id, mood):
            for track in recommend(provider, settings, seeds, targets, ASKED):
                candidates.setdefault(track["track_id"], track)
    except ProviderStopped as exc:
        if not candidates:
            return "unreachable", str(exc), []
    known = {r[0] for r in con.execute("select distinct track_id from marts.fct_plays where listener_id = ? union "
                                       "select track_id from raw.plays where listener_id = ?",
                                       [listener_id, listener_id]).fetchall()}
    new = [c for c in candidates.values() if c["track_id"] not in known]
    features, _, features_provider = from_reccobeats(settings, [c["track_id"] for c in new], sleep)
    if features_provider.report.unreachable and not features:
        return "unreachable", features_provider.report.stopped, []
    kept = _in_mood(con, model, mood, new, features)[:KEPT]
    if not kept:
        return "none_in_mood", f"none of the {len(new)} new tracks ReccoBeats suggested sits in this mood", []
    art = Provider("Spotify oEmbed", settings, min_interval_s=0.1, budget=len(kept), sleep=sleep)
    for track in kept:
        try:
            track["image_url"] = thumbnail(art, settings, track["track_id"])
        except ProviderStopped:
            break  # the list stands without art; the page shows none rather than a broken image
    return "found", None, kept


def _targets(centroid: np.ndarray, listener_id: str, mood: int) -> list[dict[str, float]]:
    """The centroid as ReccoBeats' target features, and a variation of it that is the same for the
    same listener and mood."""
    rng = np.random.default_rng(int(hashlib.sha256(f"{listener_id}|{mood}".encode()).hexdigest()[:8], 16))
    varied = np.clip(centroid + rng.uniform(-VARIATION, VARIATION, len(centroid)), 0, 1)
    return [_as_targets(centroid), _as_targets(varied)]


def _as_targets(values: np.ndarray) -> dict[str, float]:
    targets = {}
    for feature, value in zip(FEATURES, values):
        if feature == "tempo_norm":  # ReccoBeats takes the tempo in BPM
            targets["tempo"] = round(float(value) * 250, 1)
        else:
            targets[feature] = round(float(value), 3)
    return targets


def _in_mood(con, model: MoodModel, mood: int, tracks: list[dict], features: dict[str, dict]) -> list[dict]:
    """The tracks whose features assign them to `mood` and lie within the radius of its own tracks."""
    radius = _radius(con, model, mood)
    kept = []
    for track in tracks:
        found = features.get(track["track_id"])
        if not found or any(found.get(f if f != "tempo_norm" else "tempo") is None for f in FEATURES):
            continue
        point = np.array([[min(found["tempo"] / 250, 1) if f == "tempo_norm" else found[f] for f in FEATURES]])
        point = np.clip(point, 0, 1)
        distance = _distance(model, mood, point)
        if int(model.assign(point)[0]) == mood and (radius is None or distance <= radius):
            kept.append({**track, "distance": round(distance, 4)})
    return sorted(kept, key=lambda t: t["distance"])


def _distance(model: MoodModel, mood: int, points: np.ndarray) -> float | np.ndarray:
    centroid = model.centroids[list(model.cluster_ids).index(mood)]
    scaled = (points - model.mean) / model.scale - (centroid - model.mean) / model.scale
    distances = np.sqrt((scaled ** 2).sum(axis=1))
    return float(distances[0]) if len(distances) == 1 else distances


def _radius(con, model: MoodModel, mood: int) -> float | None:
    rows = con.execute(f"""select {", ".join(FEATURES)} from marts.dim_tracks tracks
                           join staging.stg_ml__track_moods moods using (track_id)
                           where moods.mood_cluster_id = ? and tracks.has_audio_features""", [mood]).fetchall()
    if len(rows) < 2:
        return None
    return float(np.quantile(np.atleast_1d(_distance(model, mood, np.array(rows, dtype=float))), RADIUS_QUANTILE))


def _store(con, listener_id: str, mood_run: str, mood: int, outcome: str, note: str | None,
           kept: list[dict]) -> None:
    """The listener's lists of the current clustering only, this mood's replaced; the fetch logged."""
    at = utc_now()
    con.execute("begin transaction")
    try:
        for table in ("ml.recommendations", "ml.recommendation_fetches"):
            con.execute(f"delete from {table} where listener_id = ? and (mood_run_id <> ? or mood_cluster_id = ?)",
                        [listener_id, mood_run, mood])
        for rank, track in enumerate(kept, start=1):
            con.execute("insert into ml.recommendations values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        [listener_id, mood_run, mood, rank, track["track_id"], track["track_name"],
                         track["artist_name"], track.get("image_url"), track["distance"], at])
        con.execute("insert into ml.recommendation_fetches values (?, ?, ?, ?, ?, ?)",
                    [listener_id, mood_run, mood, at, outcome, note])
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise
