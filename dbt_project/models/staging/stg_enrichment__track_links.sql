-- A name-only track's Spotify id, as a keyless provider found it from the names.
select name_track_id, track_id, provider, loaded_at
from {{ source('raw', 'track_links') }}
