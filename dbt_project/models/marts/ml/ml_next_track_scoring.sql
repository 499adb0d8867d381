-- One row per listener: the state after the latest play, the input of the next-mood prediction.
-- The next track is assumed to follow at once, in the same session and local hour.
-- Incremental by listener: only the listeners in int_listeners__rebuild are recomputed.
{{ config(materialized='incremental', incremental_strategy='append',
          pre_hook="{{ delete_rebuilt_listeners('int_listeners__rebuild') }}") }}
-- depends_on: {{ ref('int_listeners__rebuild') }}
with latest_start as (
    select listener_id, max(started_at) as latest_started_at
    from {{ ref('fct_plays') }}
    where {{ in_rebuilt_listeners('listener_id', 'int_listeners__rebuild') }}
    group by listener_id
),

recent_plays as (
    -- each listener's three latest plays and every play of the two hours before the latest:
    -- all the latest play's state needs (the mood changes of its last hour look one play back)
    select plays.*
    from {{ ref('fct_plays') }} as plays
    inner join latest_start using (listener_id)
    where plays.started_at >= latest_start.latest_started_at - interval 2 hours
       or plays.play_id in (
        select unnest(max_by(play_id, (started_at, played_at, track_id), 3))
        from {{ ref('fct_plays') }}
        where {{ in_rebuilt_listeners('listener_id', 'int_listeners__rebuild') }}
        group by listener_id
    )
),

states as (
    {{ mood_states('recent_plays') }}
),

latest as (
    select *
    from states
    qualify row_number() over (partition by listener_id order by started_at desc, played_at desc, track_id desc) = 1
)

select
    latest.listener_id,
    latest.played_at as as_of,
    hour(local_played_at) as local_hour,
    isodow(local_played_at) - 1 as local_dow,
    state_mood_1 as prev_mood_1,
    state_mood_2 as prev_mood_2,
    state_mood_3 as prev_mood_3,
    valence as prev_valence,
    energy as prev_energy,
    danceability as prev_danceability,
    acousticness as prev_acousticness,
    instrumentalness as prev_instrumentalness,
    tempo_norm as prev_tempo_norm,
    is_skipped as prev_is_skipped,
    state_valence_2 as prev2_valence,
    state_energy_2 as prev2_energy,
    state_danceability_2 as prev2_danceability,
    state_acousticness_2 as prev2_acousticness,
    state_instrumentalness_2 as prev2_instrumentalness,
    state_tempo_norm_2 as prev2_tempo_norm,
    state_mood_changes_last_hour as mood_changes_last_hour,
    0 as seconds_since_prev_play,
    position_in_session as plays_before_in_session,
    sessions.local_start_hour as session_start_hour,
    date_diff('second', sessions.started_at, latest.played_at) / 60.0 as minutes_into_session,
    {{ cyclic('hour(local_played_at)', 24, 'hour') }},
    {{ cyclic('isodow(local_played_at) - 1', 7, 'dow') }}
from latest
inner join {{ ref('fct_sessions') }} as sessions using (session_id)
