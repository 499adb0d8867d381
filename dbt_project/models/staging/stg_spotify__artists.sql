select
    artist_id,
    artist_name,
    coalesce(genres, []::varchar[]) as genres,
    genres[1] as primary_genre,
    loaded_at
from {{ source('raw', 'artists') }}
