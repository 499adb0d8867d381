-- One row per listening session.
select
    session_id,
    listener_id,
    min(started_at) as started_at,
    max(played_at) as ended_at,
    min(local_started_at) as local_started_at,
    hour(min(local_started_at)) as local_start_hour,
    isodow(min(local_started_at)) - 1 as local_start_dow,  -- 0 = Monday
    count(*) as play_count,
    count(*) filter (where is_skipped) as skip_count,
    sum(ms_played) as ms_played,
    date_diff('second', min(started_at), max(played_at)) / 60.0 as duration_minutes
from {{ ref('int_plays_sessionized') }}
group by session_id, listener_id
