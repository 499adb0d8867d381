{#- For each play of `plays` (fct_plays, or a slice of it holding whole listener histories'
    tails), what is known once it has been heard: its mood and features, the two moods and
    the features before it, and how often the mood changed within a session in the hour up
    to it, all within `plays` (a slice must reach two hours back for the last of these).
    Used by int_plays__mood_states (every play) and by ml_next_track_scoring (only each
    listener's latest plays, so a refresh does not compute every play's state to score one). -#}
{% macro mood_states(plays) -%}
with plays as (
    select
        plays.*,
        moods.mood_cluster_id,
        features.valence,
        features.energy,
        features.danceability,
        features.acousticness,
        features.instrumentalness,
        features.tempo_norm
    from {{ plays }} as plays
    left join {{ ref('stg_ml__track_moods') }} as moods using (track_id)
    left join {{ ref('stg_spotify__audio_features') }} as features using (track_id)
),

changes as (
    select
        *,
        -- a change counts only inside a session: a new session's first mood is a choice, not a shift
        case when session_id = lag(session_id) over listener_order
             then (mood_cluster_id <> lag(mood_cluster_id) over listener_order)::int end as mood_changed
    from plays
    window listener_order as (partition by listener_id order by started_at, played_at, track_id)
)

select
    play_id,
    listener_id,
    track_id,
    session_id,
    started_at,
    played_at,
    local_played_at,
    local_hour,
    local_dow,
    part_of_day,
    ms_played,
    is_skipped,
    position_in_session,
    mood_cluster_id,
    valence,
    energy,
    danceability,
    acousticness,
    instrumentalness,
    tempo_norm,
    mood_cluster_id as state_mood_1,
    lag(mood_cluster_id, 1) over listener_order as state_mood_2,
    lag(mood_cluster_id, 2) over listener_order as state_mood_3,
    lag(valence) over listener_order as state_valence_2,
    lag(energy) over listener_order as state_energy_2,
    lag(danceability) over listener_order as state_danceability_2,
    lag(acousticness) over listener_order as state_acousticness_2,
    lag(instrumentalness) over listener_order as state_instrumentalness_2,
    lag(tempo_norm) over listener_order as state_tempo_norm_2,
    coalesce(sum(mood_changed) over (
        partition by listener_id order by started_at range between interval 60 minutes preceding and current row
    ), 0) as state_mood_changes_last_hour
from changes
window listener_order as (partition by listener_id order by started_at, played_at, track_id)
{%- endmacro %}
