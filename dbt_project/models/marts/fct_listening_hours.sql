-- Every hour from a listener's first play to the last, zero-filled, with its local hour.
-- The grid steps through UTC hours, so a 23-hour DST day has 23 rows (local 02 is missing)
-- and a 25-hour day has 25 (local 02 twice).
with bounds as (
    select
        listener_id,
        date_trunc('hour', min(started_at)) as first_hour,
        date_trunc('hour', max(played_at)) as last_hour
    from {{ ref('fct_plays') }}
    group by listener_id
),

grid as (
    select listener_id, unnest(generate_series(first_hour, last_hour, interval 1 hour)) as hour_start_utc
    from bounds
),

plays as (
    select listener_id, date_trunc('hour', started_at) as hour_start_utc,
           count(*) as play_count, sum(ms_played) as ms_played
    from {{ ref('fct_plays') }}
    group by all
),

sessions as (
    select listener_id, date_trunc('hour', started_at) as hour_start_utc, count(*) as sessions_started
    from {{ ref('fct_sessions') }}
    group by all
),

localized as (
    select
        grid.listener_id,
        grid.hour_start_utc,
        {{ to_local('grid.hour_start_utc', 'listeners.timezone') }} as hour_start_local
    from grid
    inner join {{ ref('stg_spotify__listeners') }} as listeners using (listener_id)
)

select
    localized.listener_id,
    localized.hour_start_utc,
    localized.hour_start_local,
    cast(localized.hour_start_local as date) as local_date,
    hour(localized.hour_start_local) as local_hour,
    isodow(localized.hour_start_local) - 1 as local_dow,
    coalesce(plays.play_count, 0) as play_count,
    coalesce(plays.ms_played, 0) as ms_played,
    coalesce(sessions.sessions_started, 0) as sessions_started
from localized
left join plays using (listener_id, hour_start_utc)
left join sessions using (listener_id, hour_start_utc)
