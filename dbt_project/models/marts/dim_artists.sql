select artist_id, artist_name, genres, primary_genre
from {{ ref('stg_spotify__artists') }}
