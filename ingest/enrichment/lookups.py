"""What the enrichment providers share: which tracks are still known by name only, and the
tracks a provider has still to be asked about, most played first (a track asked once, found or
not, is not asked again unless the user retries)."""

from __future__ import annotations

import duckdb

# a name-based track (account data) that no known track of the same name and artist, nor a link a
# provider found, resolves: the plays dbt's int_plays__track_resolved leaves by name
NAME_ONLY_UNRESOLVED = """
    t.track_id like 'name:%'
    and not exists (select 1 from raw.track_links k where k.name_track_id = t.track_id)
    and not exists (select 1 from raw.tracks known
                    where known.track_id not like 'name:%'
                      and lower(trim(known.track_name)) = lower(trim(t.track_name))
                      and lower(trim(known.artist_names[1])) = lower(trim(t.artist_names[1])))
"""


def to_ask(con: duckdb.DuckDBPyConnection, provider: str, where: str, columns: str, limit: int) -> list[tuple]:
    """`columns` of the tracks (alias t) matching `where` that `provider` was never asked about,
    most played first (a linked name-only track's plays count for its Spotify id)."""
    return con.execute(f"""
        with plays as (
            select coalesce(k.track_id, p.track_id) as track_id, count(*) as plays
            from raw.plays p left join raw.track_links k on k.name_track_id = p.track_id
            group by 1
        )
        select {columns} from raw.tracks t
        left join plays p using (track_id)
        where ({where})
          and not exists (select 1 from raw.metadata_lookups l where l.provider = ? and l.item_id = t.track_id)
        order by coalesce(p.plays, 0) desc, t.track_id
        limit ?""", [provider, limit]).fetchall()
