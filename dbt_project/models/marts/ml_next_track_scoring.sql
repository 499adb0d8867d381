-- One row per listener: the state after the latest play, the input of the next-mood prediction.
-- The next track is assumed to follow at once, in the same session and local hour.
-- Incremental by listener: only the listeners in int_listeners__rebuild are recomputed.
{{ config(materialized='incremental', incremental_strategy='append',
          pre_hook="{{ delete_rebuilt_listeners('int_listeners__rebuild') }}") }}
-- depends_on: {{ ref('int_listeners__rebuild') }}
with recent_plays as (
    -- each listener's three latest plays: all the latest play's state needs
    select *
    from {{ ref('fct_plays') }}
    where play_id in (
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
    listener_id,
    played_at as as_of,
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
    0 as seconds_since_prev_play,
    position_in_session as plays_before_in_session,
    {{ cyclic('hour(local_played_at)', 24, 'hour') }},
    {{ cyclic('isodow(local_played_at) - 1', 7, 'dow') }}
from latest
