-- One row per listener-hour: did a session start in it, and what was known when it began.
-- Every lag window ends one row before the current hour, so no row sees its own future.
--
-- Incremental: a pre-hook deletes, per listener, the rows from the first hour whose
-- sessions_started or local time differs from fct_listening_hours (or that is new or gone), or
-- whose latest earlier play is another than fct_plays now says (a late play landed);
-- this build then writes the hours after the last one kept, reading 30 days before them so
-- that every window (at most 28 same-hour rows, 672 hours) sees what a full build sees.
-- The hourly grid is dense (one row per UTC hour), so rows are hours.
{{ config(materialized='incremental', incremental_strategy='append', on_schema_change='append_new_columns',
          tags=['daily'],
          pre_hook="{{ delete_changed_training_hours() }}") }}
with
{% if is_incremental() %}
kept as (
    select listener_id, max(hour_start_utc) as kept_until
    from {{ this }}
    group by listener_id
),
{% endif %}

hours as (
    select
        grid.*,
        {% if is_incremental() %}kept.kept_until{% else %}null::timestamp as kept_until{% endif %},
        row_number() over (partition by grid.listener_id order by grid.hour_start_utc) as hour_index
    from {{ ref('fct_listening_hours') }} as grid
    {% if is_incremental() %}
    left join kept using (listener_id)
    where grid.hour_start_utc > coalesce(kept.kept_until, '-infinity'::timestamp) - interval 30 days
    {% endif %}
),

features as (
    select
        listener_id,
        hour_start_utc,
        hour_start_local,
        local_hour,
        local_dow,
        kept_until,
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
            partition by listener_id order by hour_index rows between 672 preceding and 1 preceding
        ), 672), 672) as hours_since_last_session,
        -- day-ahead context: did a session start 24 and 168 hours before (0 before the history)
        coalesce(lag(sessions_started, 24) over listener_hours > 0, false) as started_24h_before,
        coalesce(lag(sessions_started, 168) over listener_hours > 0, false) as started_168h_before,
        sessions_started,
        sessions_started > 0 as session_started
    from hours
    window listener_hours as (partition by listener_id order by hour_index)
),

last_play as (
    -- minutes from the end of the latest play before the hour to its start: a session that just
    -- ended (or is still running) makes a new one unlikely; capped at four weeks like the hours
    select
        features.listener_id,
        features.hour_start_utc,
        plays.played_at as last_play_at,
        least(coalesce(date_diff('second', plays.played_at, features.hour_start_utc) / 60.0, 40320), 40320)
            as minutes_since_last_play
    from features
    asof left join {{ ref('fct_plays') }} as plays
        on plays.listener_id = features.listener_id and plays.played_at < features.hour_start_utc
)

select features.* exclude (kept_until), last_play.last_play_at, last_play.minutes_since_last_play
from features
inner join last_play using (listener_id, hour_start_utc)
where features.hour_start_utc > coalesce(features.kept_until, '-infinity'::timestamp)
