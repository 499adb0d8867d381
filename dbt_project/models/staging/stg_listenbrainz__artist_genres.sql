-- Each MusicBrainz artist's genres as one list, most voted first (ties by name).
select
    artist_mbid,
    any_value(artist_name) as artist_name,
    list(genre order by votes desc nulls last, genre) as genres,
    max(loaded_at) as loaded_at
from {{ source('raw', 'artist_genres') }}
group by artist_mbid
