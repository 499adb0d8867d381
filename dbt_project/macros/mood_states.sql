{#- For each play of `plays` (fct_plays, or a slice of it holding whole listener histories'
    tails), what is known once it has been heard: its mood and features and the two moods
    before it within `plays`. Used by int_play_mood_states (every play) and by
    ml_next_track_scoring (only each listener's latest plays, so a refresh does not compute
    every play's state to score one). -#}
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
    lag(mood_cluster_id, 2) over listener_order as state_mood_3
from plays
window listener_order as (partition by listener_id order by started_at, played_at, track_id)
{%- endmacro %}
