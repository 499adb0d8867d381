-- One row per listener-hour: did a session start in it, and what was known when it began.
-- Every lag window ends one row before the current hour, so no row sees its own future.
with hours as (
    select
        *,
        row_number() over (partition by listener_id order by hour_start_utc) as hour_index
    from {{ ref('fct_listening_hours') }}
)

select
    listener_id,
    hour_start_utc,
    hour_start_local,
    local_hour,
    local_dow,
    {{ cyclic('local_hour', 24, 'hour') }},
    {{ cyclic('local_dow', 7, 'dow') }},
    coalesce(sum(sessions_started) over (
        partition by listener_id order by hour_index rows between 24 preceding and 1 preceding
    ), 0) as sessions_last_24h,
    coalesce(sum(sessions_started) over (
        partition by listener_id order by hour_index rows between 168 preceding and 1 preceding
    ), 0) as sessions_last_7d,
    -- share of the same local hour with a session start over the previous 28 days (null: no history yet)
    avg(case when sessions_started > 0 then 1.0 else 0.0 end) over (
        partition by listener_id, local_hour order by hour_index rows between 28 preceding and 1 preceding
    ) as same_hour_rate_4w,
    -- capped at four weeks; the first hours of a history count as long silence
    least(coalesce(hour_index - max(case when sessions_started > 0 then hour_index end) over (
        partition by listener_id order by hour_index rows between unbounded preceding and 1 preceding
    ), 672), 672) as hours_since_last_session,
    sessions_started > 0 as session_started
from hours
