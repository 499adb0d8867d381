-- The 24 local hours after each listener's last observed hour, with the features the
-- session-start model needs, as known at the end of that last hour.
-- Incremental by listener: only listeners with new plays (int_plays__rebuild_from) are recomputed.
{{ config(materialized='incremental', incremental_strategy='append',
          pre_hook="{{ delete_rebuilt_listeners('int_plays__rebuild_from') }}") }}
-- depends_on: {{ ref('int_plays__rebuild_from') }}
with hours as (
    select
        *,
        row_number() over (partition by listener_id order by hour_start_utc) as hour_index
    from {{ ref('fct_listening_hours') }}
    where {{ in_rebuilt_listeners('listener_id', 'int_plays__rebuild_from') }}
),

origin as (
    select listener_id, max(hour_index) as origin_index, arg_max(hour_start_local, hour_index) as origin_local,
           arg_max(hour_start_utc, hour_index) as origin_utc
    from hours
    group by listener_id
),

last_play as (
    select listener_id, max(played_at) as last_played_at
    from {{ ref('fct_plays') }}
    where {{ in_rebuilt_listeners('listener_id', 'int_plays__rebuild_from') }}
    group by listener_id
),

recent as (
    select
        origin.listener_id,
        coalesce(sum(hours.sessions_started) filter (where hours.hour_index > origin.origin_index - 24), 0)
            as sessions_last_24h,
        coalesce(sum(hours.sessions_started) filter (where hours.hour_index > origin.origin_index - 168), 0)
            as sessions_last_7d,
        any_value(origin.origin_index) - max(hours.hour_index) filter (where hours.sessions_started > 0)
            as hours_since_session_at_origin
    from origin
    inner join hours using (listener_id)
    group by origin.listener_id
),

same_hour as (
    select listener_id, local_hour, avg(case when sessions_started > 0 then 1.0 else 0.0 end) as same_hour_rate_4w
    from (
        select *, row_number() over (partition by listener_id, local_hour order by hour_index desc) as days_back
        from hours
    )
    where days_back <= 28
    group by all
),

horizon as (
    select
        listener_id,
        hours_ahead,
        origin_index + hours_ahead as hour_index,
        origin_local + to_hours(hours_ahead) as hour_start_local,
        origin_utc + to_hours(hours_ahead) as hour_start_utc
    from origin, range(1, 25) as steps(hours_ahead)
),

features as (
    select
        horizon.*,
        hour(horizon.hour_start_local) as local_hour,
        isodow(horizon.hour_start_local) - 1 as local_dow
    from horizon
)

select
    features.listener_id,
    features.hours_ahead,
    features.hour_start_local,
    features.local_hour,
    features.local_dow,
    {{ cyclic('features.local_hour', 24, 'hour') }},
    {{ cyclic('features.local_dow', 7, 'dow') }},
    recent.sessions_last_24h,
    recent.sessions_last_7d,
    same_hour.same_hour_rate_4w,
    least(coalesce(recent.hours_since_session_at_origin + features.hours_ahead, 672), 672) as hours_since_last_session,
    coalesce(day_before.sessions_started > 0, false) as started_24h_before,
    coalesce(week_before.sessions_started > 0, false) as started_168h_before,
    -- as if nothing is played until then
    least(date_diff('second', last_play.last_played_at, features.hour_start_utc) / 60.0, 40320) as minutes_since_last_play
from features
inner join recent using (listener_id)
inner join last_play using (listener_id)
left join same_hour using (listener_id, local_hour)
left join hours as day_before
    on day_before.listener_id = features.listener_id and day_before.hour_index = features.hour_index - 24
left join hours as week_before
    on week_before.listener_id = features.listener_id and week_before.hour_index = features.hour_index - 168
