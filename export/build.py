"""Build dashboard_data.json (shared/dashboard_contract.md) for one listener from marts and ml tables.

Reads only; every number comes from a dbt mart or an `ml.*` table, so it can be traced to
the model run behind it. Undefined values are None (JSON null), never made up.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import duckdb

SCHEMA_VERSION = "1.0"
CENTROID_KEYS = ("valence", "energy", "danceability", "acousticness", "instrumentalness", "tempo_norm")
HISTORY_LENGTH = 10


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> list[dict]:
    cursor = con.execute(sql, params or [])
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row)) for row in cursor.fetchall()]


def _iso(ts_utc: datetime | None, tz: ZoneInfo) -> str | None:
    """A naive-UTC timestamp as ISO 8601 with the listener's offset."""
    if ts_utc is None:
        return None
    return ts_utc.replace(tzinfo=timezone.utc).astimezone(tz).isoformat(timespec="seconds")


def _round(value, digits: int = 4):
    return None if value is None else round(float(value), digits)


def build_dashboard(con: duckdb.DuckDBPyConnection, listener_id: str, *, recently_played_limit: int = 25,
                    now: datetime | None = None, status: dict | None = None) -> dict:
    listener = _rows(con, "select * from staging.stg_spotify__listeners where listener_id = ?", [listener_id])
    if not listener:
        raise LookupError(f"SPOTIFY_BRAIN_LISTENER_ID={listener_id!r}: no such listener in raw.listeners")
    listener = listener[0]
    tz = ZoneInfo(listener["timezone"])
    clusters = _mood_clusters(con)
    session_probs = _session_probs(con, listener_id)
    return {
        "schema_version": SCHEMA_VERSION,
        "generated_at": (now or datetime.now(timezone.utc)).astimezone(tz).isoformat(timespec="seconds"),
        "listener": {"id": listener_id, "display_name": listener["display_name"], "timezone": listener["timezone"]},
        "next_prediction": _next_prediction(con, listener_id, clusters),
        "session_probs": session_probs,
        "top_hours": _top_hours(session_probs),
        "session_actual": _session_actual(con, listener_id),
        "mood_clusters": list(clusters.values()),
        "mood_trajectory": _mood_trajectory(con, listener_id, tz),
        "recently_played": _recently_played(con, listener_id, tz, recently_played_limit),
        "genre_profiles": _genre_profiles(con, listener_id),
        "metrics": _metrics(con, listener_id, tz),
        "drift": _drift(con, listener_id),
        "coverage": _coverage(con, listener_id),
        "pipeline": _pipeline(status or {}),
        "listening_stats": listening_stats(con, listener_id),
    }


def coverage_rows(con: duckdb.DuckDBPyConnection, listener_id: str | None = None) -> list[dict]:
    """marts.listener_coverage per listener (all, or one); [] before dbt first built it."""
    if not _exists(con, "marts", "listener_coverage"):
        return []
    return _rows(con, "select * from marts.listener_coverage where listener_id = coalesce(?, listener_id) "
                      "order by listener_id", [listener_id])


def _coverage(con, listener_id: str) -> dict:
    """What the mood and genre figures describe: shares of plays and of listening time."""
    rows = coverage_rows(con, listener_id)
    row = rows[0] if rows else {}
    return {
        "plays": row.get("plays", 0),
        "audio_features": {"plays_share": _round(row.get("plays_with_features_share")),
                           "listening_time_share": _round(row.get("time_with_features_share"))},
        "genres": {"plays_share": _round(row.get("plays_with_genres_share")),
                   "listening_time_share": _round(row.get("time_with_genres_share"))},
    }


PARTS = ("night", "morning", "afternoon", "evening")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
TOP_KINDS = {"track": "tracks", "artist": "artists", "album": "albums", "genre": "genres"}


def _exists(con, schema: str, table: str) -> bool:
    return con.execute("select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
                       [schema, table]).fetchone()[0] > 0


def listening_stats(con, listener_id: str) -> dict | None:
    """The statistics marts (built by the daily job) for one listener, local dates; None before
    the first daily run built them. Years and the last 12 months come with top 10 lists; months
    with their figures only, so a long history keeps the file small."""
    if not _exists(con, "marts", "stats_streaks"):
        return None
    periods = _rows(con, "select * from marts.stats_period_summary where listener_id = ? "
                         "order by period_kind = 'last_12_months' desc, period_kind desc, period desc", [listener_id])
    tops = _rows(con, "select * from marts.stats_period_top where listener_id = ? and period_kind <> 'month' "
                      "order by period_kind, period, item_kind, rank", [listener_id])
    by_period: dict = {}
    for row in tops:
        entry = {"name": row["item_name"], "minutes": _round(row["minutes_listened"], 1), "plays": row["plays"]}
        if row["item_kind"] != "genre":
            entry["artist"] = row["artist_name"]
        by_period.setdefault(row["period"], {kind: [] for kind in TOP_KINDS.values()})[
            TOP_KINDS[row["item_kind"]]].append(entry)
    streak = next(iter(_rows(con, "select * from marts.stats_streaks where listener_id = ?", [listener_id])), None)
    monthly = _rows(con, "select * from marts.stats_monthly where listener_id = ? order by month", [listener_id])
    favourites = _rows(con, "select * from marts.stats_favourites where listener_id = ? order by list_kind, rank",
                       [listener_id])
    return {
        "as_of": _date(streak["as_of_date"]) if streak else None,
        "periods": [_period(p, by_period.get(p["period"])) for p in periods],
        "streaks": _streaks(streak),
        "months": [{"month": m["month"], "minutes": _round(m["minutes_listened"], 1),
                    "distinct_artists": m["distinct_artists"], "new_artists": m["new_artists"],
                    "new_artist_share": _round(m["new_artist_share"]),
                    "top10_artist_share": _round(m["top10_artist_share"]),
                    "artist_entropy_bits": _round(m["artist_entropy_bits"])} for m in monthly],
        "on_repeat": [{"track_id": f["track_id"], "track_name": f["track_name"], "artist_name": f["artist_name"],
                       "plays_last_14_days": f["recent_plays"],
                       "usual_plays_per_14_days": _round(f["usual_plays_per_14_days"], 2)}
                      for f in favourites if f["list_kind"] == "on_repeat"],
        "forgotten_favourites": [{"track_id": f["track_id"], "track_name": f["track_name"],
                                  "artist_name": f["artist_name"], "plays_before": f["plays_before_six_months"],
                                  "last_played": _date(f["last_played_date"])}
                                 for f in favourites if f["list_kind"] == "forgotten"],
    }


def _date(value) -> str | None:
    return None if value is None else value.isoformat()


def _period(row: dict, top: dict | None) -> dict:
    period = {
        "kind": row["period_kind"], "period": row["period"], "start": _date(row["period_start"]),
        "end": _date(row["period_end"]), "minutes": _round(row["minutes_listened"], 1), "plays": row["plays"],
        "distinct_tracks": row["distinct_tracks"], "distinct_artists": row["distinct_artists"],
        "busiest_day": {"date": _date(row["busiest_day"]), "minutes": _round(row["busiest_day_minutes"], 1)},
        "longest_session": {"minutes": _round(row["longest_session_minutes"], 1),
                            "started_at": row["longest_session_started_at"].isoformat(timespec="minutes")
                            if row["longest_session_started_at"] else None},
        # a part with no listening has a share of 0; a period with no listening time at all
        # (every play 0 ms) has no shares: null, not zeros that do not add up to one
        "part_of_day_shares": {part: _share(row, f"share_{part}") for part in PARTS},
        "weekday_shares": {day: _share(row, f"share_{day}") for day in WEEKDAYS},
        "new_artists": row["new_artists"], "new_artist_share": _round(row["new_artist_share"]),
        # only plays whose source reports skips count: the share says how many that is
        "skips": {"rate": _round(row["skip_rate"]), "share_of_plays_with_skip_info": _round(row["skip_info_share"])},
    }
    if top is not None:
        period["top"] = top
    return period


def _share(row: dict, column: str) -> float | None:
    return None if not row["minutes_listened"] else _round(row[column] or 0.0)


def _streaks(row: dict | None) -> dict | None:
    if row is None:
        return None
    return {"current_days": row["current_streak_days"], "current_start": _date(row["current_streak_start"]),
            "longest_days": row["longest_streak_days"], "longest_start": _date(row["longest_streak_start"]),
            "longest_end": _date(row["longest_streak_end"]),
            "artist_run": {"artist": row["artist_run_artist_name"], "plays": row["artist_run_plays"],
                           "started_at": row["artist_run_started_at"].isoformat(timespec="minutes")
                           if row["artist_run_started_at"] else None}}


def _pipeline(status: dict) -> dict:
    """Whether some job's last run failed (its failure is newer than its last success), and the
    newest failure. Success times are left out on purpose: they change every run, and the export
    must stay the same when the data did (delivery commits only real changes).
    `status`: orchestration/status.py's record."""
    jobs = [entry for entry in status.values() if isinstance(entry, dict)]
    failures = [j["last_failure"] for j in jobs if j.get("last_failure")]
    failing = [j["last_failure"] for j in jobs if j.get("last_failure")
               and (not j.get("last_success") or j["last_failure"]["at"] > j["last_success"]["at"])]
    failure = max(failing or failures, key=lambda f: f["at"], default=None)
    return {"failing": bool(failing),
            "last_failure": {k: failure.get(k) for k in ("job", "step", "error", "at")} if failure else None}


def _mood_clusters(con) -> dict[int, dict]:
    rows = _rows(con, "select * from staging.stg_ml__mood_clusters order by mood_cluster_id")
    return {
        r["mood_cluster_id"]: {
            "cluster_id": r["mood_cluster_id"], "label": r["mood_label"], "size": r["size"],
            "centroid": {k: _round(r[k]) for k in CENTROID_KEYS},
        }
        for r in rows
    }


def _next_prediction(con, listener_id: str, clusters: dict[int, dict]) -> dict:
    rows = _rows(
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
                "validation_reliability": None, "cluster_centroid": None, "recommended_tracks": []}
    total = sum(r["probability"] for r in rows)
    top = rows[0]
    served = top["served"]
    served_metrics = json.loads(top["metrics"]) if served == "model" else json.loads(top["baselines"]).get(
        served.removesuffix("_baseline"), {})
    distribution = sorted(
        ({"mood_cluster_id": r["mood_cluster_id"], "mood_label": clusters[r["mood_cluster_id"]]["label"],
          "probability": _round(r["probability"] / total, 6)} for r in rows),
        key=lambda d: d["mood_cluster_id"],
    )
    return {
        "mood_cluster_id": top["mood_cluster_id"],
        "mood_label": clusters[top["mood_cluster_id"]]["label"],
        "confidence": _round(top["probability"] / total, 6),
        "confidence_kind": top["confidence_kind"],
        "mood_distribution": distribution,
        "prediction_source": served,
        "model_version": top["run_id"],
        "validation_reliability": _round(served_metrics.get("accuracy")),
        "cluster_centroid": clusters[top["mood_cluster_id"]]["centroid"],
        "recommended_tracks": _recommended(con, listener_id, top["mood_cluster_id"]),
    }


def _recommended(con, listener_id: str, mood_cluster_id: int) -> list[dict]:
    """The listener's own most played tracks in the mood (ties: most recent first)."""
    return _rows(
        con,
        """
        select t.track_id, t.track_name, t.primary_artist_name as artist_name, t.album_image_url as image_url
        from marts.fct_plays p
        join staging.stg_ml__track_moods m using (track_id)
        join marts.dim_tracks t using (track_id)
        where p.listener_id = ? and m.mood_cluster_id = ? and not p.is_skipped
        group by all
        order by count(*) desc, max(p.played_at) desc, t.track_id
        limit 5
        """,
        [listener_id, mood_cluster_id],
    )


def _session_probs(con, listener_id: str) -> dict[str, float | None]:
    rows = _rows(con, "select local_hour, probability from ml.session_start_predictions where listener_id = ?",
                 [listener_id])
    by_hour = {r["local_hour"]: _round(r["probability"], 6) for r in rows}
    return {str(h): by_hour.get(h) for h in range(24)}


def _top_hours(session_probs: dict[str, float | None]) -> list[dict]:
    known = [(int(h), p) for h, p in session_probs.items() if p is not None]
    known.sort(key=lambda hp: (-hp[1], hp[0]))
    return [{"hour": h, "probability": p} for h, p in known[:3]]


def _session_actual(con, listener_id: str) -> dict[str, float]:
    rows = _rows(con, "select local_hour, relative_frequency from marts.session_start_profile where listener_id = ?",
                 [listener_id])
    by_hour = {r["local_hour"]: _round(r["relative_frequency"]) for r in rows}
    return {str(h): by_hour.get(h, 0.0) for h in range(24)}


def _mood_trajectory(con, listener_id: str, tz: ZoneInfo) -> list[dict]:
    rows = _rows(con, "select * from marts.listening_mood_trajectory where listener_id = ? order by bin_start_utc",
                 [listener_id])
    return [{"time": _iso(r["bin_start_utc"], tz), "valence": _round(r["valence"]), "energy": _round(r["energy"])}
            for r in rows]


def _recently_played(con, listener_id: str, tz: ZoneInfo, limit: int) -> list[dict]:
    rows = _rows(
        con,
        """
        select p.track_id, t.track_name, t.primary_artist_name as artist_name, p.played_at,
               t.album_image_url as image_url, m.mood_cluster_id
        from marts.fct_plays p
        left join marts.dim_tracks t using (track_id)
        left join staging.stg_ml__track_moods m using (track_id)
        where p.listener_id = ?
        order by p.played_at desc, p.track_id
        limit ?
        """,
        [listener_id, limit],
    )
    return [{**r, "played_at": _iso(r["played_at"], tz)} for r in rows]


def _genre_profiles(con, listener_id: str) -> dict:
    rows = _rows(
        con,
        """
        select profile_kind, profile_key, genre, share from marts.genre_profiles
        where listener_id = ? and genre_rank <= case when profile_kind = 'overall' then 10 else 5 end
          and share is not null  -- a profile whose plays all lasted 0 ms has no shares to show
        order by profile_kind, profile_key, genre_rank
        """,
        [listener_id],
    )
    profiles: dict = {"overall": [], "by_part_of_day": {}, "by_mood": {}}
    for r in rows:
        entry = {"genre": r["genre"], "share": _round(r["share"])}
        if r["profile_kind"] == "overall":
            profiles["overall"].append(entry)
        else:
            key = "by_part_of_day" if r["profile_kind"] == "part_of_day" else "by_mood"
            profiles[key].setdefault(r["profile_key"], []).append(entry)
    return profiles


def _metrics(con, listener_id: str, tz: ZoneInfo) -> dict:
    """Training runs, newest first: each pairs the session and mood runs of one data snapshot
    (a snapshot without mood clusters has no mood run; its mood metrics are null)."""
    rows = _rows(
        con,
        """
        select s.data_end, s.trained_at as session_at, m.trained_at as mood_at,
               m.run_id as mood_run, m.metrics as mood_metrics, m.baselines as mood_baselines,
               m.served as mood_served, m.model_beats_baseline as mood_beats, m.oracle as mood_oracle,
               s.run_id as session_run, s.metrics as session_metrics, s.baselines as session_baselines,
               s.served as session_served, s.model_beats_baseline as session_beats, s.oracle as session_oracle,
               (select count(distinct track_id) from marts.fct_plays p
                 where p.listener_id = s.listener_id and p.played_at <= s.data_end) as num_tracks,
               (select count(*) from marts.fct_sessions x
                 where x.listener_id = s.listener_id and x.ended_at <= s.data_end) as num_sessions
        from ml.model_runs s
        left join ml.model_runs m on m.listener_id = s.listener_id and m.data_end = s.data_end
                                 and m.model_name = 'next_mood'
        where s.model_name = 'session_start' and s.listener_id = ?
        qualify row_number() over (partition by s.data_end order by s.trained_at desc, m.trained_at desc) = 1
        order by s.data_end desc
        limit ?
        """,
        [listener_id, HISTORY_LENGTH + 1],
    )
    runs = [_run(r, tz) for r in rows]
    return {"latest": runs[0] if runs else None, "history": runs[1:]}


def _run(r: dict, tz: ZoneInfo) -> dict:
    mood, mood_base = json.loads(r["mood_metrics"] or "{}"), json.loads(r["mood_baselines"] or "{}")
    sess, sess_base = json.loads(r["session_metrics"]), json.loads(r["session_baselines"])
    return {
        "run_at": _iso(max(t for t in (r["mood_at"], r["session_at"]) if t is not None), tz),
        "num_tracks": r["num_tracks"],
        "num_sessions": r["num_sessions"],
        "mood_model": {
            "run_id": r["mood_run"],
            "train_accuracy": _round(mood.get("train_accuracy")),
            "val_accuracy": _round(mood.get("accuracy")),
            "val_top3_accuracy": _round(mood.get("top3_accuracy")),
            "val_f1_macro": _round(mood.get("f1_macro")),
            "val_log_loss": _round(mood.get("log_loss")),
            "val_calibration_error": _round(mood.get("calibration_error")),
            "baselines": {name: {"val_accuracy": _round(m.get("accuracy")), "val_log_loss": _round(m.get("log_loss")),
                                 "val_top3_accuracy": _round(m.get("top3_accuracy")),
                                 "val_f1_macro": _round(m.get("f1_macro"))}
                          for name, m in mood_base.items()},
            "model_beats_baseline": bool(r["mood_beats"]),
            "served": r["mood_served"] or "none",
            "reliability": _reliability(mood),
            "oracle": _oracle(r["mood_oracle"]),
        },
        "session_model": {
            "run_id": r["session_run"],
            "train_roc_auc": _round(sess.get("train_roc_auc")),
            "val_roc_auc": _round(sess.get("roc_auc")),
            "val_pr_auc": _round(sess.get("pr_auc")),
            "val_f1": _round(sess.get("f1")),
            "val_brier": _round(sess.get("brier")),
            "val_log_loss": _round(sess.get("log_loss")),
            "calibration_error": _round(sess.get("calibration_error")),
            "baselines": {name: {"val_roc_auc": _round(m.get("roc_auc")), "val_pr_auc": _round(m.get("pr_auc")),
                                 "val_brier": _round(m.get("brier")), "val_log_loss": _round(m.get("log_loss"))}
                          for name, m in sess_base.items()},
            "model_beats_baseline": bool(r["session_beats"]),
            "served": r["session_served"],
            "reliability": _reliability(sess),
            "oracle": _oracle(r["session_oracle"]),
        },
    }


def _reliability(metrics: dict) -> list[dict]:
    """The served predictor's holdout probabilities against what happened, per decile."""
    return [{"predicted": _round(row["predicted"]), "observed": _round(row["observed"]), "count": row["count"]}
            for row in metrics.get("reliability") or []]


def _oracle(stored: str | None) -> dict | None:
    """A demo listener's oracle figures (the generator's own probabilities); null for real people."""
    if not stored:
        return None
    oracle = json.loads(stored)
    return {"val_log_loss": _round(oracle.get("log_loss")), "val_brier": _round(oracle.get("brier")),
            "gap_closed": _round(oracle.get("gap_closed"))}


def _drift(con, listener_id: str) -> dict:
    rows = _rows(con, "select * from marts.listening_drift where listener_id = ? order by metric", [listener_id])
    groups = {"feature": "features", "habit": "habits", "mood_share": "mood_shares"}
    # the flag follows the audio-feature means; habits and mood shares are reported beside it
    drift: dict = {
        "drift_detected": any(r["is_drift"] for r in rows if r["metric_kind"] == "feature"),
        "recent_days": rows[0]["recent_days"] if rows else None,
        "threshold": float(rows[0]["threshold"]) if rows else None,
        "features": {}, "habits": {}, "mood_shares": {},
    }
    for r in rows:
        drift[groups[r["metric_kind"]]][r["metric"]] = {
            "recent": _round(r["recent_value"]), "earlier": _round(r["earlier_value"]),
            "relative_change": _round(r["relative_change"]), "drift": bool(r["is_drift"]),
        }
    return drift
