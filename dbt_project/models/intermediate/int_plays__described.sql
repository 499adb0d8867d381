{{ config(tags=['daily']) }}
-- Every play with what the listening statistics group it by: track, artist, album and genres
-- by name, in the listener's local time. Account-data tracks without an artist id are grouped
-- by artist name (artist_key), so they still count once per artist.
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
    tracks.genres
from {{ ref('fct_plays') }} as plays
left join {{ ref('dim_tracks') }} as tracks using (track_id)
