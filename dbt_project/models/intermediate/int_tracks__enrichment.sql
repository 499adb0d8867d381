-- What enrichment has reached for each known track, as of the moment it is read (a view over the
-- staging views): a Spotify id, audio features, genres from any source, album art.
select
    tracks.track_id,
    tracks.track_id not like 'name:%' as has_spotify_id,
    features.track_id is not null as has_features,
    coalesce(len(artists.genres), 0) > 0
        or coalesce(len(artist_genres.genres), 0) > 0
        or coalesce(len(recordings.recording_genres), 0) > 0 as has_genres,
    tracks.album_image_url is not null as has_art
from {{ ref('stg_spotify__tracks') }} as tracks
left join {{ ref('stg_spotify__audio_features') }} as features using (track_id)
left join {{ ref('stg_spotify__artists') }} as artists on artists.artist_id = tracks.primary_artist_id
left join {{ ref('stg_listenbrainz__recordings') }} as recordings using (track_id)
left join {{ ref('stg_listenbrainz__artist_genres') }} as artist_genres
    on artist_genres.artist_mbid = recordings.primary_artist_mbid
