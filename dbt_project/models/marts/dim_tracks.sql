-- Every known track with its primary artist, genres, release and (where a provider knows them)
-- audio features. Genres come from Spotify (with an app) for the primary artist, else from
-- MusicBrainz (keyless, through ListenBrainz): the primary artist's three most voted genres, else
-- the recording's; genre_source says which.
with musicbrainz as (
    select recordings.track_id, recordings.recording_mbid, recordings.release_year,
           coalesce(artist_genres.genres[1:3], []::varchar[]) as artist_genres,
           recordings.recording_genres[1:3] as recording_genres
    from {{ ref('stg_listenbrainz__recordings') }} as recordings
    left join {{ ref('stg_listenbrainz__artist_genres') }} as artist_genres
        on artist_genres.artist_mbid = recordings.primary_artist_mbid
),

genre_choice as (
    select
        tracks.track_id,
        case
            when len(artists.genres) > 0 then 'spotify'
            when len(musicbrainz.artist_genres) > 0 then 'musicbrainz_artist'
            when len(musicbrainz.recording_genres) > 0 then 'musicbrainz_recording'
        end as genre_source
    from {{ ref('stg_spotify__tracks') }} as tracks
    left join {{ ref('stg_spotify__artists') }} as artists on artists.artist_id = tracks.primary_artist_id
    left join musicbrainz using (track_id)
)

select
    tracks.track_id,
    tracks.track_name,
    tracks.album_name,
    tracks.album_image_url,
    tracks.duration_ms,
    tracks.primary_artist_id,
    coalesce(artists.artist_name, tracks.primary_artist_name) as primary_artist_name,
    case genre_choice.genre_source
        when 'spotify' then artists.genres
        when 'musicbrainz_artist' then musicbrainz.artist_genres
        when 'musicbrainz_recording' then musicbrainz.recording_genres
        else []::varchar[]
    end as genres,
    case genre_choice.genre_source
        when 'spotify' then artists.genres[1]
        when 'musicbrainz_artist' then musicbrainz.artist_genres[1]
        when 'musicbrainz_recording' then musicbrainz.recording_genres[1]
    end as primary_genre,
    genre_choice.genre_source,
    musicbrainz.recording_mbid,
    musicbrainz.release_year,
    features.valence,
    features.energy,
    features.danceability,
    features.acousticness,
    features.instrumentalness,
    features.tempo_norm,
    features.track_id is not null as has_audio_features
from {{ ref('stg_spotify__tracks') }} as tracks
inner join genre_choice using (track_id)
left join {{ ref('stg_spotify__artists') }} as artists on artists.artist_id = tracks.primary_artist_id
left join musicbrainz using (track_id)
left join {{ ref('stg_spotify__audio_features') }} as features on features.track_id = tracks.track_id
