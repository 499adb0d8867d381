"""The `listening_stats.household` section: one listener beside the others of the household
(stats_household, stats_household_lists), for the export of that listener."""

from __future__ import annotations

import duckdb

from export.rows import fetch_rows, rounded


def household(con: duckdb.DuckDBPyConnection, listener_id: str) -> dict:
    """Affinity with each other listener, what each of the two plays that the other never does,
    and the household's top artists; `others` is empty for a household of one."""
    pairs = fetch_rows(con, "select * from marts.stats_household where listener_id = ? order by other_listener_id",
                       [listener_id])
    lists = fetch_rows(con, "select * from marts.stats_household_lists where list_kind = 'household_top' "
                       "or (list_kind = 'missed' and ? in (listener_id, other_listener_id)) order by rank", [listener_id])

    def missed(owner: str, other: str) -> list[dict]:
        return [_artist(r) for r in lists
                if r["list_kind"] == "missed" and r["listener_id"] == owner and r["other_listener_id"] == other]

    others = [{"listener_id": pair["other_listener_id"], "affinity": rounded(pair["affinity"]),
               "shared_artists": pair["shared_artists"], "shared_tracks": pair["shared_tracks"],
               "you_play_they_never_do": missed(listener_id, pair["other_listener_id"]),
               "they_play_you_never_do": missed(pair["other_listener_id"], listener_id)} for pair in pairs]
    top = [_artist(r) | {"listeners": r["listeners"]} for r in lists if r["list_kind"] == "household_top"]
    return {"others": others, "top_artists": top}


def _artist(row: dict) -> dict:
    return {"name": row["artist_name"], "minutes": rounded(row["minutes_listened"], 1), "plays": row["plays"]}
