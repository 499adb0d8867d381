-- One row per play: UTC and local times, session and position, skip flag.
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
    is_skipped,
    reason_end,
    source
from {{ ref('int_plays_sessionized') }}
