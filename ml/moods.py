"""Mood clusters: KMeans on the six standardized audio features of the tracks people played.

k is chosen by silhouette over 3..8 (or fixed by a setting). Cluster ids stay stable
across retrains: new centroids are matched to the previous run's by Hungarian assignment,
so "cluster 2" keeps meaning the same mood on the dashboard.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
from scipy.optimize import linear_sum_assignment
from sklearn.cluster import KMeans
from sklearn.metrics import silhouette_score

from ml.registry import ModelRun, fingerprint, latest_run, load_artifact, make_run_id, save_run
from ml.training import one_blas_thread

FEATURES = ("valence", "energy", "danceability", "acousticness", "instrumentalness", "tempo_norm")
K_RANGE = range(3, 9)
SEED = 7
SILHOUETTE_SAMPLE = 3000


@dataclass
class MoodModel:
    """What assigning a track to a mood needs: the scaler and centroids in feature space."""

    run_id: str
    mean: np.ndarray
    scale: np.ndarray
    cluster_ids: np.ndarray
    centroids: np.ndarray  # in the original [0, 1] feature space, one row per cluster id
    labels: list[str]
    sizes: list[int]
    silhouette: float | None

    def assign(self, features: np.ndarray) -> np.ndarray:
        scaled = (features - self.mean) / self.scale
        centers = (self.centroids - self.mean) / self.scale
        distances = ((scaled[:, None, :] - centers[None, :, :]) ** 2).sum(axis=2)
        return self.cluster_ids[np.argmin(distances, axis=1)]


def load_played_track_features(con: duckdb.DuckDBPyConnection) -> tuple[np.ndarray, np.ndarray]:
    """Track ids and feature matrix of every played track that has audio features."""
    rows = con.execute(
        f"""
        select track_id, {", ".join(FEATURES)}
        from marts.dim_tracks
        where has_audio_features
          and track_id in (select track_id from marts.fct_plays)
        order by track_id
        """
    ).fetchnumpy()
    track_ids = np.asarray(rows["track_id"], dtype=str)
    if len(track_ids) == 0:
        return track_ids, np.empty((0, len(FEATURES)))
    return track_ids, np.column_stack([np.asarray(rows[f], dtype=float) for f in FEATURES])


def fit_moods(
    features: np.ndarray, fixed_k: int | None = None, previous: MoodModel | None = None, run_id: str = ""
) -> MoodModel | None:
    """Cluster; None when there are too few tracks with features to form three moods."""
    n = len(features)
    if n < 3 or (fixed_k and n < fixed_k):
        return None
    mean = features.mean(axis=0)
    scale = features.std(axis=0)
    scale[scale == 0] = 1.0
    scaled = (features - mean) / scale
    candidates = [fixed_k] if fixed_k else [k for k in K_RANGE if k < n]
    if not candidates:  # three tracks cannot be told apart into three moods and judged
        return None
    best = None
    for k in candidates:
        km = KMeans(n_clusters=k, n_init=10, random_state=SEED).fit(scaled)
        score = None
        # a silhouette needs at least two clusters and one with two tracks (identical tracks can
        # leave fewer clusters than asked for)
        if 1 < len(np.unique(km.labels_)) < n:
            score = float(silhouette_score(scaled, km.labels_, sample_size=min(n, SILHOUETTE_SAMPLE), random_state=SEED))
        if best is None or (score is not None and (best[1] is None or score > best[1])):
            best = (km, score)
    km, score = best
    centroids = km.cluster_centers_ * scale + mean
    ids = _stable_ids(centroids, previous)
    order = np.argsort(ids)
    sizes = np.bincount(km.labels_, minlength=len(centroids))
    centroids, ids, sizes = centroids[order], ids[order], sizes[order]
    return MoodModel(
        run_id=run_id, mean=mean, scale=scale, cluster_ids=ids, centroids=np.clip(centroids, 0, 1),
        labels=unique_labels(centroids), sizes=[int(s) for s in sizes], silhouette=score,
    )


def _stable_ids(centroids: np.ndarray, previous: MoodModel | None) -> np.ndarray:
    """Give each new centroid the id of the nearest previous one (Hungarian); new ones get fresh ids."""
    k = len(centroids)
    if previous is None or len(previous.cluster_ids) == 0:
        return np.arange(k)
    cost = ((centroids[:, None, :] - previous.centroids[None, :, :]) ** 2).sum(axis=2)
    rows, cols = linear_sum_assignment(cost)
    ids = np.full(k, -1)
    ids[rows] = previous.cluster_ids[cols]
    fresh = iter(i for i in range(k + len(previous.cluster_ids)) if i not in set(previous.cluster_ids))
    for i in np.where(ids < 0)[0]:
        ids[i] = next(fresh)
    return ids


def describe(centroid: np.ndarray) -> str:
    """A short human label from energy, valence and acousticness/instrumentalness."""
    values = dict(zip(FEATURES, centroid))
    energy = "Calm" if values["energy"] < 0.35 else "Steady" if values["energy"] < 0.65 else "Energetic"
    valence = "dark" if values["valence"] < 0.4 else "mellow" if values["valence"] < 0.6 else "bright"
    texture = ""
    if values["acousticness"] > 0.6:
        texture = " acoustic"
    elif values["instrumentalness"] > 0.6:
        texture = " instrumental"
    elif values["danceability"] > 0.7:
        texture = " dance"
    return f"{energy} {valence}{texture}"


def unique_labels(centroids: np.ndarray) -> list[str]:
    labels = [describe(c) for c in centroids]
    for label in set(labels):
        same = [i for i, other in enumerate(labels) if other == label]
        if len(same) > 1:  # tell them apart by their distinguishing feature
            for rank, i in enumerate(sorted(same, key=lambda j: -centroids[j][1]), start=1):
                labels[i] = f"{label} {rank}"
    return labels


def train_mood_run(con: duckdb.DuckDBPyConnection, data_dir: Path, fixed_k: int | None) -> ModelRun | None:
    """Cluster the played tracks, store clusters and run; None (and nothing stored) without features."""
    track_ids, features = load_played_track_features(con)
    params = {"features": list(FEATURES), "k_range": [K_RANGE.start, K_RANGE.stop - 1], "fixed_k": fixed_k, "seed": SEED}
    previous_run = latest_run(con, "mood_clusters", None)
    try:  # the previous clustering keeps mood ids stable; without its artifact ids start afresh
        previous = load_artifact(previous_run) if previous_run else None
    except FileNotFoundError:
        previous = None
    run_id = make_run_id("mood_clusters", None, params, fingerprint(track_ids, features))
    with one_blas_thread():
        model = fit_moods(features, fixed_k, previous, run_id)
    if model is None:
        return None
    run = ModelRun(
        model_name="mood_clusters", listener_id=None, params=params, data_start=None, data_end=None,
        n_train=len(track_ids), n_val=0, metrics={"k": len(model.cluster_ids), "silhouette": model.silhouette},
        baselines={}, served="model", model_beats_baseline=None, confidence_kind="not_applicable",
        run_id=run_id,
    )
    con.execute("begin transaction")
    try:
        if not con.execute("select 1 from ml.mood_clusters where run_id = ?", [run_id]).fetchone():
            for cid, label, size, centroid in zip(model.cluster_ids, model.labels, model.sizes, model.centroids):
                con.execute(
                    "insert into ml.mood_clusters values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [run_id, int(cid), label, size, *map(float, centroid)],
                )
        run = save_run(con, run, data_dir, model)
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise
    return run


def assign_track_moods(con: duckdb.DuckDBPyConnection) -> int:
    """Give every track with audio features the mood of the latest clustering (no refit)."""
    run = latest_run(con, "mood_clusters", None)
    con.execute("begin transaction")
    try:
        con.execute("delete from ml.track_moods")
        if run is None:
            con.execute("commit")
            return 0
        model: MoodModel = load_artifact(run)
        rows = con.execute(
            f"select track_id, {', '.join(FEATURES)} from marts.dim_tracks where has_audio_features order by track_id"
        ).fetchnumpy()
        track_ids = np.asarray(rows["track_id"], dtype=str)
        if len(track_ids):
            features = np.column_stack([np.asarray(rows[f], dtype=float) for f in FEATURES])
            moods = model.assign(features)
            table = pa.table({"track_id": track_ids, "mood_cluster_id": moods.astype(np.int32)})
            con.register("assigned", table)
            con.execute("insert into ml.track_moods select track_id, mood_cluster_id, ? from assigned", [run["run_id"]])
            con.unregister("assigned")
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise
    return len(track_ids)
