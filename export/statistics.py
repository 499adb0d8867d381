"""The `listening_stats` section: the statistics marts (built by the daily job) for one listener."""

from __future__ import annotations

import duckdb

from export.household import household
from export.rows import fetch_rows, rounded, table_exists

PARTS = ("night", "morning", "afternoon", "evening")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
TOP_KINDS = {"track": "tracks", "artist": "artists", "album": "albums", "genre": "genres",
             "discovery": "discoveries"}


def listening_stats(con: duckdb.DuckDBPyConnection, listener_id: str) -> dict | None:
    """The statistics marts (built by the daily job) for one listener, local dates; None before
    the first daily run built them. Years and the last 12 months come with top 10 lists; months
    with their figures only, so a long history keeps the file small."""
    if not table_exists(con, "marts", "stats_streaks"):
        return None
    periods = fetch_rows(con, "select * from marts.stats_period_summary where listener_id = ? "
                         "order by period_kind = 'last_12_months' desc, period_kind desc, period desc", [listener_id])
    tops = fetch_rows(con, "select * from marts.stats_period_top where listener_id = ? and period_kind <> 'month' "
                      "order by period_kind, period, item_kind, rank", [listener_id])
    by_period: dict = {}
    for row in tops:
        entry = {"name": row["item_name"], "minutes": rounded(row["minutes_listened"], 1), "plays": row["plays"]}
        if row["item_kind"] != "genre":
            entry["artist"] = row["artist_name"]
        by_period.setdefault(row["period"], {kind: [] for kind in TOP_KINDS.values()})[
            TOP_KINDS[row["item_kind"]]].append(entry)
    eras = _eras(con, listener_id)
    streak = next(iter(fetch_rows(con, "select * from marts.stats_streaks where listener_id = ?", [listener_id])), None)
    monthly = fetch_rows(con, "select * from marts.stats_monthly where listener_id = ? order by month", [listener_id])
    favourites = fetch_rows(con, "select * from marts.stats_favourites where listener_id = ? order by list_kind, rank",
                       [listener_id])
    return {
        "as_of": _date(streak["as_of_date"]) if streak else None,
        "periods": [_period(p, by_period.get(p["period"]), eras.get((p["period_kind"], p["period"])))
                    for p in periods],
        "streaks": _streaks(streak),
        "months": [{"month": m["month"], "minutes": rounded(m["minutes_listened"], 1),
                    "distinct_artists": m["distinct_artists"], "new_artists": m["new_artists"],
                    "new_artist_share": rounded(m["new_artist_share"]),
                    "top10_artist_share": rounded(m["top10_artist_share"]),
                    "artist_entropy_bits": rounded(m["artist_entropy_bits"])} for m in monthly],
        "on_repeat": [{"track_id": f["track_id"], "track_name": f["track_name"], "artist_name": f["artist_name"],
                       "plays_last_14_days": f["recent_plays"],
                       "usual_plays_per_14_days": rounded(f["usual_plays_per_14_days"], 2)}
                      for f in favourites if f["list_kind"] == "on_repeat"],
        "forgotten_favourites": [{"track_id": f["track_id"], "track_name": f["track_name"],
                                  "artist_name": f["artist_name"], "plays_before": f["plays_before_six_months"],
                                  "last_played": _date(f["last_played_date"])}
                                 for f in favourites if f["list_kind"] == "forgotten"],
        "genre_activity": _genre_activity(con, listener_id),
        "genre_evolution": _genre_evolution(con, listener_id),
        "exclusions": _exclusions(con, listener_id),
        "household": household(con, listener_id) if table_exists(con, "marts", "stats_household_lists") else None,
    }


def _date(value) -> str | None:
    return None if value is None else value.isoformat()


def _marts_rows(con: duckdb.DuckDBPyConnection, table: str, sql: str, params: list) -> list[dict]:
    """Rows of a statistics mart, none before the daily job first built it (a refresh right after
    an upgrade exports before that)."""
    return fetch_rows(con, sql, params) if table_exists(con, "marts", table) else []


def _eras(con: duckdb.DuckDBPyConnection, listener_id: str) -> dict:
    """Per (period kind, period): the release years of what was played (stats_eras)."""
    eras: dict = {}
    for row in _marts_rows(con, "stats_eras", "select * from marts.stats_eras where listener_id = ? "
                           "order by release_decade", [listener_id]):
        era = eras.setdefault((row["period_kind"], row["period"]), {
            "dated_share": rounded(row["dated_share"]), "average_release_year": rounded(row["average_release_year"], 1),
            "top_release_year": row["top_release_year"], "decades": []})
        era["decades"].append({"decade": row["release_decade"], "minutes": rounded(row["minutes_listened"], 1),
                               "share": rounded(row["share"])})
    return eras


def _genre_activity(con: duckdb.DuckDBPyConnection, listener_id: str) -> list[dict]:
    """Each year's and month's top five genres by share (stats_genre_periods)."""
    rows = _marts_rows(con, "stats_genre_periods", "select * from marts.stats_genre_periods where listener_id = ? "
                       "and rank <= 5 and period_kind in ('year', 'month') order by period_kind desc, period, rank",
                       [listener_id])
    activity: dict = {}
    for row in rows:
        entry = activity.setdefault((row["period_kind"], row["period"]), {
            "kind": row["period_kind"], "period": row["period"], "tagged_share": rounded(row["tagged_share"]),
            "genres": []})
        entry["genres"].append({"genre": row["genre"], "minutes": rounded(row["minutes_listened"], 1),
                                "share": rounded(row["share"])})
    return list(activity.values())


def _genre_evolution(con: duckdb.DuckDBPyConnection, listener_id: str) -> list[dict]:
    """Per year (against the one before) and the last 12 months (against the 12 before): the
    genres that grew and shrank most."""
    evolution: dict = {}
    for row in _marts_rows(con, "stats_genre_evolution", "select * from marts.stats_genre_evolution "
                           "where listener_id = ? order by period_kind, period, direction, rank", [listener_id]):
        entry = evolution.setdefault(row["period"], {"period": row["period"], "grew": [], "shrank": []})
        entry[row["direction"]].append({"genre": row["genre"], "share": rounded(row["share"]),
                                        "share_before": rounded(row["share_before"]), "change": rounded(row["change"])})
    return list(evolution.values())


def _exclusions(con: duckdb.DuckDBPyConnection, listener_id: str) -> dict | None:
    """What the settings leave out of these statistics (the raw plays keep it)."""
    row = next(iter(_marts_rows(con, "stats_exclusions", "select * from marts.stats_exclusions where listener_id = ?",
                                [listener_id])), None)
    if row is None:
        return None
    return {"artists": list(row["exclude_artists"]), "tracks": list(row["exclude_tracks"]),
            "min_play_seconds": row["min_play_seconds"], "plays_excluded": row["plays_excluded"],
            "minutes_excluded": rounded(row["minutes_excluded"], 1),
            "plays_by_reason": {reason: row[f"plays_excluded_{reason}"]
                                for reason in ("artist", "track", "shorter_than_minimum")}}


def _period(row: dict, top: dict | None, eras: dict | None = None) -> dict:
    period = {
        "kind": row["period_kind"], "period": row["period"], "start": _date(row["period_start"]),
        "end": _date(row["period_end"]), "minutes": rounded(row["minutes_listened"], 1), "plays": row["plays"],
        "distinct_tracks": row["distinct_tracks"], "distinct_artists": row["distinct_artists"],
        "busiest_day": {"date": _date(row["busiest_day"]), "minutes": rounded(row["busiest_day_minutes"], 1)},
        "longest_session": {"minutes": rounded(row["longest_session_minutes"], 1),
                            "started_at": row["longest_session_started_at"].isoformat(timespec="minutes")
                            if row["longest_session_started_at"] else None},
        # a part with no listening has a share of 0; a period with no listening time at all
        # (every play 0 ms) has no shares: null, not zeros that do not add up to one
        "part_of_day_shares": {part: _share(row, f"share_{part}") for part in PARTS},
        "weekday_shares": {day: _share(row, f"share_{day}") for day in WEEKDAYS},
        "new_artists": row["new_artists"], "new_artist_share": rounded(row["new_artist_share"]),
        # only plays whose source reports skips count: the share says how many that is
        "skips": {"rate": rounded(row["skip_rate"]), "share_of_plays_with_skip_info": rounded(row["skip_info_share"])},
        # .get: a summary built before these columns existed is exported until the daily job rebuilds it
        "longest_streak": {"days": row.get("longest_streak_days"), "start": _date(row.get("longest_streak_start"))},
        "eras": eras,
    }
    if top is not None:
        period["top"] = top
    return period


def _share(row: dict, column: str) -> float | None:
    return None if not row["minutes_listened"] else rounded(row[column] or 0.0)


def _streaks(row: dict | None) -> dict | None:
    if row is None:
        return None
    return {"current_days": row["current_streak_days"], "current_start": _date(row["current_streak_start"]),
            "longest_days": row["longest_streak_days"], "longest_start": _date(row["longest_streak_start"]),
            "longest_end": _date(row["longest_streak_end"]),
            "artist_run": {"artist": row["artist_run_artist_name"], "plays": row["artist_run_plays"],
                           "started_at": row["artist_run_started_at"].isoformat(timespec="minutes")
                           if row["artist_run_started_at"] else None}}
