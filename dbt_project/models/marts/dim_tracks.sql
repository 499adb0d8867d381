-- Every known track with its primary artist, genres and (where a provider knows them) audio features.
select
    tracks.track_id,
    tracks.track_name,
    tracks.album_name,
    tracks.album_image_url,
    tracks.duration_ms,
    tracks.primary_artist_id,
    coalesce(artists.artist_name, tracks.primary_artist_name) as primary_artist_name,
    coalesce(artists.genres, []::varchar[]) as genres,
    artists.primary_genre,
    features.valence,
    features.energy,
    features.danceability,
    features.acousticness,
    features.instrumentalness,
    features.tempo_norm,
    features.track_id is not null as has_audio_features
from {{ ref('stg_spotify__tracks') }} as tracks
left join {{ ref('stg_spotify__artists') }} as artists on artists.artist_id = tracks.primary_artist_id
left join {{ ref('stg_spotify__audio_features') }} as features on features.track_id = tracks.track_id
