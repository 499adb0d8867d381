-- Per listener: the share of plays and of listening time whose track has a Spotify id, audio
-- features (so a mood), genres and album art, so a reader knows what the mood and genre figures
-- describe; and how much listening time was measured rather than taken from a track's length
-- (scrobbles: minutes_basis). A view: plays as of the last build, enrichment as of the moment it is read, so the
-- enrichment step can report what it just added before dbt runs again.
{{ config(materialized='view') }}
with plays as (
    select plays.listener_id, plays.ms_played, plays.minutes_basis, tracks.has_spotify_id, tracks.has_features, tracks.has_genres,
           tracks.has_art
    from {{ ref('fct_plays') }} as plays
    left join {{ ref('int_tracks__enrichment') }} as tracks using (track_id)
)

select
    listener_id,
    count(*) as plays,
    sum(ms_played)::bigint as ms_played,
    {%- for basis, column in [('played', 'ms_played_measured'), ('track_length', 'ms_track_length'),
                              ('default_length', 'ms_default_length')] %}
    coalesce(sum(ms_played) filter (where minutes_basis = '{{ basis }}'), 0)::bigint as {{ column }},
    {%- endfor %}
    {{ var('scrobble_default_ms') }}::integer as scrobble_default_ms,
    {%- for what in ['features', 'genres', 'track_id', 'art'] %}
    {%- set flag = 'has_spotify_id' if what == 'track_id' else 'has_' ~ what %}
    count(*) filter (where {{ flag }}) as plays_with_{{ what }},
    count(*) filter (where {{ flag }}) / count(*) as plays_with_{{ what }}_share,
    coalesce(sum(ms_played) filter (where {{ flag }}) / nullif(sum(ms_played), 0), 0) as time_with_{{ what }}_share
    {{- "," if not loop.last }}
    {%- endfor %}
from plays
group by listener_id
