"""The `listening_stats` section: the statistics marts (built by the daily job) for one listener."""

from __future__ import annotations

import duckdb

from export.rows import fetch_rows, rounded, table_exists

PARTS = ("night", "morning", "afternoon", "evening")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
TOP_KINDS = {"track": "tracks", "artist": "artists", "album": "albums", "genre": "genres"}


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
    streak = next(iter(fetch_rows(con, "select * from marts.stats_streaks where listener_id = ?", [listener_id])), None)
    monthly = fetch_rows(con, "select * from marts.stats_monthly where listener_id = ? order by month", [listener_id])
    favourites = fetch_rows(con, "select * from marts.stats_favourites where listener_id = ? order by list_kind, rank",
                       [listener_id])
    return {
        "as_of": _date(streak["as_of_date"]) if streak else None,
        "periods": [_period(p, by_period.get(p["period"])) for p in periods],
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
    }


def _date(value) -> str | None:
    return None if value is None else value.isoformat()


def _period(row: dict, top: dict | None) -> dict:
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
