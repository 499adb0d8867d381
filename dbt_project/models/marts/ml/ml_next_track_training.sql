-- Built by the daily job only (tag daily): models are retrained there.
{{ config(tags=['daily']) }}
-- One row per play with a mood whose previous play has one: the target is this play's mood,
-- every feature is the state after the previous play (known before this track started).
with states as (
    select * from {{ ref('int_plays__mood_states') }}
),

rows_with_past as (
    select
        states.listener_id,
        play_id,
        states.started_at,
        local_hour,
        local_dow,
        mood_cluster_id as target_mood_cluster_id,
        lag(state_mood_1) over listener_order as prev_mood_1,
        lag(state_mood_2) over listener_order as prev_mood_2,
        lag(state_mood_3) over listener_order as prev_mood_3,
        lag(valence) over listener_order as prev_valence,
        lag(energy) over listener_order as prev_energy,
        lag(danceability) over listener_order as prev_danceability,
        lag(acousticness) over listener_order as prev_acousticness,
        lag(instrumentalness) over listener_order as prev_instrumentalness,
        lag(tempo_norm) over listener_order as prev_tempo_norm,
        lag(is_skipped) over listener_order as prev_is_skipped,
        lag(state_valence_2) over listener_order as prev2_valence,
        lag(state_energy_2) over listener_order as prev2_energy,
        lag(state_danceability_2) over listener_order as prev2_danceability,
        lag(state_acousticness_2) over listener_order as prev2_acousticness,
        lag(state_instrumentalness_2) over listener_order as prev2_instrumentalness,
        lag(state_tempo_norm_2) over listener_order as prev2_tempo_norm,
        lag(state_mood_changes_last_hour) over listener_order as mood_changes_last_hour,
        date_diff('second', lag(played_at) over listener_order, states.started_at) as seconds_since_prev_play,
        position_in_session - 1 as plays_before_in_session,
        sessions.local_start_hour as session_start_hour,
        date_diff('second', sessions.started_at, states.started_at) / 60.0 as minutes_into_session
    from states
    inner join {{ ref('fct_sessions') }} as sessions using (session_id)
    window listener_order as (partition by states.listener_id order by states.started_at, played_at, track_id)
)

select
    *,
    {{ cyclic('local_hour', 24, 'hour') }},
    {{ cyclic('local_dow', 7, 'dow') }}
from rows_with_past
where target_mood_cluster_id is not null
  and prev_mood_1 is not null
