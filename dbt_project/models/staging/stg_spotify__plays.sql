-- One row per landed play, typed and with its start time: Spotify says when a play ended, so
-- its start is the end minus the time played; a scrobbler (Last.fm, ListenBrainz) says when it
-- started (raw started_at), and its minutes are set once its track is resolved
-- (int_plays__track_resolved: ms_played here is the track length the scrobbler gave, or 0).
-- Plays dated before their source existed or in the future are left out: the loader refuses them,
-- but a warehouse filled before it did may hold some, and one record dated 0001 or 9999 would
-- stretch the hourly grid over millennia.
select
    listener_id,
    track_id,
    played_at,
    coalesce(started_at, played_at - to_milliseconds(ms_played)) as started_at,
    ms_played,
    -- sources that do not report skips (the API, account data, scrobblers) count very short plays
    -- as skips; skip rates are computed only over plays whose source reported it (skip_reported)
    coalesce(skipped, ms_played < 30000) as is_skipped,
    skipped is not null as skip_reported,
    reason_start,
    reason_end,
    shuffle,
    context_uri,
    platform as platform_kind,
    source,
    source in {{ scrobble_sources() }} as is_scrobble,
    started_at is not null as start_reported,
    ingest_run_id,
    loaded_at
from {{ source('raw', 'plays') }}
where played_at >= case when source in {{ scrobble_sources() }} then '{{ var("earliest_scrobble") }}'::timestamp
                        else '{{ var("earliest_play") }}'::timestamp end
  and played_at <= timezone('UTC', now()) + interval 1 day
