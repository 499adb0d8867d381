-- Recent listening (the last var('drift_recent_days') days before the latest play) against
-- everything earlier: feature means, session habits and mood mix, with their relative change.
-- Incremental by listener: only the listeners in int_listeners__rebuild are recomputed.
{{ config(materialized='incremental', incremental_strategy='append', on_schema_change='append_new_columns',
          pre_hook="{{ delete_rebuilt_listeners('int_listeners__rebuild') }}") }}
-- depends_on: {{ ref('int_listeners__rebuild') }}
with bounds as (
    select listener_id, max(played_at) - to_days({{ var('drift_recent_days') }}) as recent_from,
           min(played_at) as first_played_at, max(played_at) as last_played_at
    from {{ ref('fct_plays') }}
    where {{ in_rebuilt_listeners('listener_id', 'int_listeners__rebuild') }}
    group by listener_id
),

-- plays, moods and features joined here, not read from int_plays__mood_states: that view's window
-- functions ran over every listener's plays before the join (20 s a refresh in a household of 10M plays)
plays as (
    select plays.listener_id, plays.played_at, moods.mood_cluster_id,
           features.valence, features.energy, features.danceability, features.acousticness,
           features.instrumentalness, features.tempo_norm,
           plays.played_at >= bounds.recent_from as is_recent
    from {{ ref('fct_plays') }} as plays
    inner join bounds using (listener_id)
    left join {{ ref('stg_ml__track_moods') }} as moods using (track_id)
    left join {{ ref('stg_spotify__audio_features') }} as features using (track_id)
    where {{ in_rebuilt_listeners('plays.listener_id', 'int_listeners__rebuild') }}
),

window_days as (
    select listener_id,
           {{ var('drift_recent_days') }}::double as recent_days,
           greatest(date_diff('second', first_played_at, recent_from) / 86400.0, 1) as earlier_days
    from bounds
),

sessions as (
    select sessions.listener_id, sessions.started_at >= bounds.recent_from as is_recent,
           count(*) as session_count, avg(sessions.duration_minutes) as session_minutes
    from {{ ref('fct_sessions') }} as sessions
    inner join bounds using (listener_id)
    group by all
),

feature_means as (
    unpivot (
        select listener_id, is_recent,
               avg(valence) as valence, avg(energy) as energy, avg(danceability) as danceability,
               avg(acousticness) as acousticness, avg(instrumentalness) as instrumentalness,
               avg(tempo_norm) as tempo_norm
        from plays group by all
    ) on valence, energy, danceability, acousticness, instrumentalness, tempo_norm
    into name metric value metric_value
),

habits as (
    select sessions.listener_id, sessions.is_recent, 'sessions_per_day' as metric,
           sessions.session_count / case when sessions.is_recent then w.recent_days else w.earlier_days end as metric_value
    from sessions inner join window_days as w using (listener_id)
    union all
    select listener_id, is_recent, 'session_minutes', session_minutes from sessions
    union all
    select plays.listener_id, plays.is_recent, 'tracks_per_day',
           count(*) / any_value(case when plays.is_recent then w.recent_days else w.earlier_days end)
    from plays inner join window_days as w using (listener_id)
    group by all
),

mood_mix as (
    select listener_id, is_recent, 'mood_share_' || mood_cluster_id::varchar as metric,
           count(*) / sum(count(*)) over (partition by listener_id, is_recent) as metric_value
    from plays where mood_cluster_id is not null
    group by listener_id, is_recent, mood_cluster_id
),

all_metrics as (
    select listener_id, is_recent, 'feature' as metric_kind, metric, metric_value from feature_means
    union all
    select listener_id, is_recent, 'habit', metric, metric_value from habits
    union all
    select listener_id, is_recent, 'mood_share', metric, metric_value from mood_mix
),

paired as (
    select
        listener_id,
        metric_kind,
        metric,
        max(metric_value) filter (where is_recent) as recent_value,
        max(metric_value) filter (where not is_recent) as earlier_value
    from all_metrics
    group by all
)

select
    *,
    {{ var('drift_recent_days') }} as recent_days,
    {{ var('drift_threshold') }} as threshold,
    (recent_value - earlier_value) / nullif(abs(earlier_value), 0) as relative_change,
    coalesce(abs((recent_value - earlier_value) / nullif(abs(earlier_value), 0)) > {{ var('drift_threshold') }}, false)
        as is_drift
from paired
