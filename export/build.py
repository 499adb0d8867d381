"""Build dashboard_data.json (shared/dashboard_contract.md) for one listener from marts and ml tables.

Reads only; every number comes from a dbt mart or an `ml.*` table, so it can be traced to
the model run behind it. Undefined values are None (JSON null), never made up. The larger
sections have their own modules: `predictions.py` (moods, the next mood, session starts),
`model_runs.py` (`metrics`), `statistics.py` (`listening_stats`); the rest are here.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import duckdb

from export.model_runs import model_runs
from export.predictions import hourly_session_probs, mood_clusters, next_prediction, top_hours
from export.rows import fetch_rows, local_iso, rounded, table_exists
from export.statistics import listening_stats
from warehouse.coverage import coverage_rows

SCHEMA_VERSION = "1.0"


def build_dashboard(con: duckdb.DuckDBPyConnection, listener_id: str, *, recently_played_limit: int = 25,
                    now: datetime | None = None, status: dict | None = None) -> dict:
    listener = fetch_rows(con, "select * from staging.stg_spotify__listeners where listener_id = ?", [listener_id])
    if not listener:
        raise LookupError(f"SPOTIFY_BRAIN_LISTENER_ID={listener_id!r}: no such listener in raw.listeners")
    listener = listener[0]
    tz = ZoneInfo(listener["timezone"])
    clusters = mood_clusters(con)
    providers = _providers(con, tz)
    session_probs = hourly_session_probs(con, listener_id)
    return {
        "schema_version": SCHEMA_VERSION,
        "generated_at": (now or datetime.now(timezone.utc)).astimezone(tz).isoformat(timespec="seconds"),
        "listener": {"id": listener_id, "display_name": listener["display_name"], "timezone": listener["timezone"]},
        "next_prediction": next_prediction(con, listener_id, clusters),
        "session_probs": session_probs,
        "top_hours": top_hours(session_probs),
        "session_actual": _session_actual(con, listener_id),
        "mood_clusters": list(clusters.values()),
        "mood_trajectory": _mood_trajectory(con, listener_id, tz),
        "recently_played": _recently_played(con, listener_id, tz, recently_played_limit, bool(clusters), providers),
        "genre_profiles": _genre_profiles(con, listener_id),
        "metrics": model_runs(con, listener_id, tz),
        "drift": _drift(con, listener_id),
        "coverage": _coverage(con, listener_id, providers),
        "pipeline": _pipeline(status or {}),
        "listening_stats": listening_stats(con, listener_id),
    }


def _coverage(con, listener_id: str, providers: dict) -> dict:
    """What the mood and genre figures describe: shares of plays and of listening time; and whether
    each enrichment provider answered on the last run."""
    rows = coverage_rows(con, listener_id)
    row = rows[0] if rows else {}

    def share(what: str) -> dict:
        return {"plays_share": rounded(row.get(f"plays_with_{what}_share")),
                "listening_time_share": rounded(row.get(f"time_with_{what}_share"))}

    return {"plays": row.get("plays", 0), "audio_features": share("features"), "genres": share("genres"),
            "track_id": share("track_id"), "album_art": share("art"), "listening_time": _listening_time(row),
            "providers": providers}


def _listening_time(row: dict) -> dict:
    """How the listening minutes were counted: measured by Spotify, or a scrobble's track length
    (Last.fm gives no play time), or the stated default for a track of unknown length."""
    def minutes(column: str) -> float:
        return round((row.get(column) or 0) / 60000, 1)

    return {"minutes": minutes("ms_played"), "measured_minutes": minutes("ms_played_measured"),
            "track_length_minutes": minutes("ms_track_length"), "default_length_minutes": minutes("ms_default_length"),
            "default_length_ms": row.get("scrobble_default_ms")}


def _providers(con, tz: ZoneInfo) -> dict:
    """Each provider of the newest enrichment run that asked any: reachable, why it stopped."""
    if not table_exists(con, "raw", "enrichment_runs"):
        return {}
    row = con.execute("select started_at, providers from raw.enrichment_runs where providers is not null "
                      "order by started_at desc limit 1").fetchone()
    if not row:
        return {}
    return {name: {"reachable": bool(p.get("reachable", True)), "stopped": p.get("stopped"),
                   "last_run": local_iso(row[0], tz)} for name, p in json.loads(row[1]).items()}


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


def _session_actual(con, listener_id: str) -> dict[str, float]:
    rows = fetch_rows(con, "select local_hour, relative_frequency from marts.session_start_profile where listener_id = ?",
                 [listener_id])
    by_hour = {r["local_hour"]: rounded(r["relative_frequency"]) for r in rows}
    return {str(h): by_hour.get(h, 0.0) for h in range(24)}


def _mood_trajectory(con, listener_id: str, tz: ZoneInfo) -> list[dict]:
    rows = fetch_rows(con, "select * from marts.listening_mood_trajectory where listener_id = ? order by bin_start_utc",
                 [listener_id])
    return [{"time": local_iso(r["bin_start_utc"], tz), "valence": rounded(r["valence"]), "energy": rounded(r["energy"])}
            for r in rows]


def _recently_played(con, listener_id: str, tz: ZoneInfo, limit: int, has_moods: bool,
                     providers: dict) -> list[dict]:
    rows = fetch_rows(
        con,
        """
        select p.track_id, t.track_name, t.primary_artist_name as artist_name, p.played_at,
               t.album_image_url as image_url, m.mood_cluster_id, t.has_audio_features as _has_features,
               (select bool_or(l.found) from raw.feature_lookups l where l.track_id = p.track_id) as _features_found
        from marts.fct_plays p
        left join marts.dim_tracks t using (track_id)
        left join staging.stg_ml__track_moods m using (track_id)
        where p.listener_id = ?
        order by p.played_at desc, p.track_id
        limit ?
        """,
        [listener_id, limit],
    )
    unreachable = [name for name, p in providers.items() if not p["reachable"]]
    return [{**{k: v for k, v in r.items() if not k.startswith("_")}, "played_at": local_iso(r["played_at"], tz),
             "mood_missing_reason": _mood_missing_reason(r, has_moods, unreachable)} for r in rows]


def _mood_missing_reason(row: dict, has_moods: bool, unreachable: list[str]) -> str | None:
    """Why a recently played track shows no mood, never a guess in its place."""
    if row["mood_cluster_id"] is not None:
        return None
    if not has_moods:
        return "no mood clusters yet: no played track has audio features"
    if row["track_id"].startswith("name:"):
        return "known by name only (account data): no Spotify track id was found for it, so no audio features"
    if row["_has_features"]:
        return "its mood is assigned at the next run"
    if row["_features_found"] is False:
        return "the audio-feature provider does not know this track"
    if unreachable:
        return f"not looked up yet: {', '.join(unreachable)} could not be reached on the last run"
    return "audio features not looked up yet (enrichment continues each run, most-played tracks first)"


def _genre_profiles(con, listener_id: str) -> dict:
    rows = fetch_rows(
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
        entry = {"genre": r["genre"], "share": rounded(r["share"])}
        if r["profile_kind"] == "overall":
            profiles["overall"].append(entry)
        else:
            key = "by_part_of_day" if r["profile_kind"] == "part_of_day" else "by_mood"
            profiles[key].setdefault(r["profile_key"], []).append(entry)
    return profiles


def _drift(con, listener_id: str) -> dict:
    rows = fetch_rows(con, "select * from marts.listening_drift where listener_id = ? order by metric", [listener_id])
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
            "recent": rounded(r["recent_value"]), "earlier": rounded(r["earlier_value"]),
            "relative_change": rounded(r["relative_change"]), "drift": bool(r["is_drift"]),
        }
    return drift
