select
    track_id,
    track_name,
    album_id,
    album_name,
    album_image_url,
    duration_ms,
    artist_ids[1] as primary_artist_id,
    artist_names[1] as primary_artist_name,
    artist_ids,
    loaded_at
from {{ source('raw', 'tracks') }}
