-- One row per play: UTC and local times, session and position, skip flag.
-- Incremental: the tail from int_plays__rebuild_from is written again, the rest stays.
{{ config(materialized='incremental', incremental_strategy='append', on_schema_change='append_new_columns',
          pre_hook="{{ delete_rebuilt_tail('started_at') }}") }}
-- depends_on: {{ ref('int_plays__rebuild_from') }}
select
    md5(listener_id || '|' || track_id || '|' || strftime(played_at, '%Y-%m-%dT%H:%M:%S')) as play_id,
    listener_id,
    track_id,
    session_id,
    position_in_session,
    started_at,
    played_at,
    local_started_at,
    local_played_at,
    cast(local_started_at as date) as local_date,
    hour(local_started_at) as local_hour,
    isodow(local_started_at) - 1 as local_dow,  -- 0 = Monday
    {{ part_of_day('hour(local_started_at)') }} as part_of_day,
    ms_played,
    minutes_basis,
    is_skipped,
    skip_reported,
    reason_end,
    shuffle,
    platform_kind,
    source
from {{ ref('int_plays__sessionized') }} as sessionized
where {{ in_rebuilt_tail('sessionized.listener_id', 'sessionized.started_at') }}
