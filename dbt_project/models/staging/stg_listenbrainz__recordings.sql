-- A track's MusicBrainz recording as ListenBrainz matched it: release, year, cover art, genres.
select
    track_id,
    recording_mbid,
    artist_mbids,
    artist_mbids[1] as primary_artist_mbid,
    release_mbid,
    release_name,
    release_year,
    coalesce(recording_genres, []::varchar[]) as recording_genres,
    loaded_at
from {{ source('raw', 'recordings') }}
