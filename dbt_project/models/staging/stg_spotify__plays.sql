-- One row per landed play, typed and with its start time (end minus time played).
-- Plays dated before Spotify existed or in the future are left out: the loader refuses them,
-- but a warehouse filled before it did may hold some, and one record dated 0001 or 9999 would
-- stretch the hourly grid over millennia.
select
    listener_id,
    track_id,
    played_at,
    played_at - to_milliseconds(ms_played) as started_at,
    ms_played,
    -- sources that do not report skips (the API, account data) count very short plays as skips;
    -- skip rates are computed only over plays whose source reported it (skip_reported)
    coalesce(skipped, ms_played < 30000) as is_skipped,
    skipped is not null as skip_reported,
    reason_start,
    reason_end,
    shuffle,
    context_uri,
    platform as platform_kind,
    source,
    ingest_run_id,
    loaded_at
from {{ source('raw', 'plays') }}
where played_at >= '{{ var("earliest_play") }}'::timestamp
  and played_at <= timezone('UTC', now()) + interval 1 day
