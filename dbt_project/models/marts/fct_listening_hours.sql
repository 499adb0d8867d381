-- Every hour from a listener's first play to the last, zero-filled, with its local hour.
-- The grid steps through UTC hours, so a 23-hour DST day has 23 rows (local 02 is missing)
-- and a 25-hour day has 25 (local 02 twice).
--
-- Incremental: per listener with new data, the hours from the rebuilt tail's first hour (or
-- from the last stored hour, when the new plays come after a silence) are written again.
{{ config(materialized='incremental', incremental_strategy='append',
          pre_hook="{{ delete_rebuilt_hours() }}") }}
-- depends_on: {{ ref('int_plays__rebuild_from') }}
with bounds as (
    select
        listener_id,
        date_trunc('hour', min(started_at)) as first_hour,
        date_trunc('hour', max(played_at)) as last_hour
    from {{ ref('fct_plays') }}
    group by listener_id
),

{% if is_incremental() %}
kept as (
    select listener_id, max(hour_start_utc) + interval 1 hour as next_hour
    from {{ this }}
    group by listener_id
),

rebuilt as (
    select bounds.listener_id, coalesce(kept.next_hour, bounds.first_hour) as first_hour, bounds.last_hour
    from bounds
    inner join {{ ref('int_plays__rebuild_from') }} as rebuild using (listener_id)
    left join kept using (listener_id)
),
{% else %}
rebuilt as (
    select * from bounds
),
{% endif %}

grid as (
    select listener_id, unnest(generate_series(first_hour, last_hour, interval 1 hour)) as hour_start_utc
    from rebuilt
),

plays as (
    select plays.listener_id, date_trunc('hour', plays.started_at) as hour_start_utc,
           count(*) as play_count, sum(plays.ms_played) as ms_played
    from {{ ref('fct_plays') }} as plays
    inner join rebuilt on rebuilt.listener_id = plays.listener_id and plays.started_at >= rebuilt.first_hour
    group by all
),

sessions as (
    select sessions.listener_id, date_trunc('hour', sessions.started_at) as hour_start_utc,
           count(*) as sessions_started
    from {{ ref('fct_sessions') }} as sessions
    inner join rebuilt on rebuilt.listener_id = sessions.listener_id and sessions.started_at >= rebuilt.first_hour
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
