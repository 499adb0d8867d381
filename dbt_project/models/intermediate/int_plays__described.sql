{{ config(tags=['daily']) }}
-- Every play with what the listening statistics group it by: track, artist, album, genres and
-- release year, in the listener's local time. Account-data tracks without an artist id are
-- grouped by artist name (artist_key), so they still count once per artist. excluded_because
-- says why a play is left out of the statistics (the settings' exclusions, var
-- stats_exclude_artists / stats_exclude_tracks / stats_min_play_ms); int_plays__counted keeps the rest.
{%- set artists = var('stats_exclude_artists') | map('lower') | list %}
{%- set tracks = var('stats_exclude_tracks') | map('lower') | list %}
select
    plays.listener_id,
    plays.play_id,
    plays.session_id,
    plays.started_at,
    plays.played_at,
    plays.local_started_at,
    plays.local_date,
    plays.local_hour,
    plays.local_dow,
    plays.part_of_day,
    plays.ms_played,
    plays.is_skipped,
    plays.skip_reported,
    plays.track_id,
    tracks.track_name,
    coalesce(tracks.primary_artist_id, 'name:' || lower(trim(tracks.primary_artist_name))) as artist_key,
    tracks.primary_artist_name as artist_name,
    lower(trim(tracks.album_name)) || chr(31) || coalesce(tracks.primary_artist_id, lower(trim(tracks.primary_artist_name)))
        as album_key,
    tracks.album_name,
    tracks.genres,
    tracks.release_year,
    case
        when {{ in_list('lower(tracks.primary_artist_name)', artists) }}
             or {{ in_list('lower(tracks.primary_artist_id)', artists) }} then 'artist'
        when {{ in_list('lower(tracks.track_name)', tracks) }} or {{ in_list('lower(plays.track_id)', tracks) }}
            then 'track'
        when plays.ms_played < {{ var('stats_min_play_ms') }} then 'shorter_than_minimum'
    end as excluded_because
from {{ ref('fct_plays') }} as plays
left join {{ ref('dim_tracks') }} as tracks using (track_id)
