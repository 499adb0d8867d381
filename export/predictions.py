"""The predictions: the mood clusters, the next mood with its tracks, and the session-start
probability of each coming hour."""

from __future__ import annotations

import json

import duckdb

from export.rows import fetch_rows, rounded

CENTROID_KEYS = ("valence", "energy", "danceability", "acousticness", "instrumentalness", "tempo_norm")


def mood_clusters(con: duckdb.DuckDBPyConnection) -> dict[int, dict]:
    rows = fetch_rows(con, "select * from staging.stg_ml__mood_clusters order by mood_cluster_id")
    return {
        r["mood_cluster_id"]: {
            "cluster_id": r["mood_cluster_id"], "label": r["mood_label"], "size": r["size"],
            "centroid": {k: rounded(r[k]) for k in CENTROID_KEYS},
        }
        for r in rows
    }


def next_prediction(con: duckdb.DuckDBPyConnection, listener_id: str, clusters: dict[int, dict]) -> dict:
    rows = fetch_rows(
        con,
        """
        select p.mood_cluster_id, p.probability, p.run_id, r.served, r.confidence_kind, r.metrics, r.baselines
        from ml.next_mood_predictions p join ml.model_runs r using (run_id)
        where p.listener_id = ? order by p.probability desc, p.mood_cluster_id
        """,
        [listener_id],
    )
    rows = [r for r in rows if r["mood_cluster_id"] in clusters]
    if not rows:
        return {"mood_cluster_id": None, "mood_label": None, "confidence": None, "confidence_kind": None,
                "mood_distribution": [], "prediction_source": None, "model_version": None,
                "validation_reliability": None, "cluster_centroid": None, "recommended_tracks": [],
                "recommendations": None}
    total = sum(r["probability"] for r in rows)
    top = rows[0]
    served = top["served"]
    served_metrics = json.loads(top["metrics"]) if served == "model" else json.loads(top["baselines"]).get(
        served.removesuffix("_baseline"), {})
    distribution = sorted(
        ({"mood_cluster_id": r["mood_cluster_id"], "mood_label": clusters[r["mood_cluster_id"]]["label"],
          "probability": rounded(r["probability"] / total, 6)} for r in rows),
        key=lambda d: d["mood_cluster_id"],
    )
    return {
        "mood_cluster_id": top["mood_cluster_id"],
        "mood_label": clusters[top["mood_cluster_id"]]["label"],
        "confidence": rounded(top["probability"] / total, 6),
        "confidence_kind": top["confidence_kind"],
        "mood_distribution": distribution,
        "prediction_source": served,
        "model_version": top["run_id"],
        "validation_reliability": rounded(served_metrics.get("accuracy")),
        "cluster_centroid": clusters[top["mood_cluster_id"]]["centroid"],
        **_recommendations(con, listener_id, top["mood_cluster_id"]),
    }


RECOMMENDED = 5          # the contract's limit for recommended_tracks
DISCOVER_FIRST = 3       # of them, tracks new to the listener (when there are), the rest their own
LISTED = 10              # each list under the additive `recommendations` key
LATELY_DAYS = 14


def _recommendations(con, listener_id: str, mood_cluster_id: int) -> dict:
    """`recommended_tracks` (at most five, each saying its `source`) and the additive
    `recommendations`: tracks new to the listener in the mood (discover, ml/recommendations.py)
    and their own in it, those not played lately first (rediscover); and why there are no new
    ones, when there are none."""
    discover = fetch_rows(con, """
        select track_id, track_name, artist_name, image_url, 'discover' as source
        from ml.recommendations r
        where listener_id = ? and mood_cluster_id = ?
          and mood_run_id = (select any_value(mood_run_id) from staging.stg_ml__mood_clusters)
        order by rank limit ?""", [listener_id, mood_cluster_id, LISTED])
    rediscover = fetch_rows(con, """
        with mine as (
            select t.track_id, t.track_name, t.primary_artist_name as artist_name, t.album_image_url as image_url,
                   count(*) as plays, max(p.played_at) as last_played
            from marts.fct_plays p
            join staging.stg_ml__track_moods m using (track_id)
            join marts.dim_tracks t using (track_id)
            where p.listener_id = ? and m.mood_cluster_id = ? and not p.is_skipped
            group by all
        )
        select track_id, track_name, artist_name, image_url, 'rediscover' as source
        from mine
        order by last_played > (select max(played_at) from marts.fct_plays where listener_id = ?) - to_days(?),
                 plays desc, last_played desc, track_id
        limit ?""", [listener_id, mood_cluster_id, listener_id, LATELY_DAYS, LISTED])
    fetch = con.execute("""select outcome, note from ml.recommendation_fetches where listener_id = ? and mood_cluster_id = ?
                           order by fetched_at desc limit 1""", [listener_id, mood_cluster_id]).fetchone()
    note = None if discover else (fetch[1] if fetch and fetch[1] else "no tracks new to you were looked up yet")
    first = discover[:DISCOVER_FIRST]
    recommended = (first + rediscover)[:RECOMMENDED]
    return {"recommended_tracks": recommended,
            "recommendations": {"mood_cluster_id": mood_cluster_id, "discover": discover, "rediscover": rediscover,
                                "discover_note": note}}


def hourly_session_probs(con: duckdb.DuckDBPyConnection, listener_id: str) -> dict[str, float | None]:
    rows = fetch_rows(con, "select local_hour, probability from ml.session_start_predictions where listener_id = ?",
                 [listener_id])
    by_hour = {r["local_hour"]: rounded(r["probability"], 6) for r in rows}
    return {str(h): by_hour.get(h) for h in range(24)}


def top_hours(session_probs: dict[str, float | None]) -> list[dict]:
    known = [(int(h), p) for h, p in session_probs.items() if p is not None]
    known.sort(key=lambda hp: (-hp[1], hp[0]))
    return [{"hour": h, "probability": p} for h, p in known[:3]]
