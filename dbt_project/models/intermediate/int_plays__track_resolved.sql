-- Plays whose track is known only by name (account-data exports: `name:<hash>` ids) get the id
-- of a known track with the same name and primary artist, compared case- and space-insensitively;
-- failing that, the Spotify id a keyless provider found from the names (stg_enrichment__track_links).
-- Unmatched ones keep their name-based id (is_unresolved) and still count everywhere.
--
-- Scrobbles (Last.fm, ListenBrainz) give no play time: a scrobble's minutes are its track's
-- length, as the scrobbler gave it, else as measured (int_tracks__durations), else
-- var('scrobble_default_ms'); `minutes_basis` says which (played | track_length | default_length),
-- and a scrobble timed by its start ends that long after it.
with tracks as (
    select
        track_id,
        lower(trim(track_name)) as name_key,
        lower(trim(primary_artist_name)) as artist_key
    from {{ ref('stg_spotify__tracks') }}
),

known as (
    select name_key, artist_key, min(track_id) as track_id
    from tracks
    where track_id not like 'name:%'
    group by name_key, artist_key
),

resolution as (
    select tracks.track_id as name_track_id, coalesce(known.track_id, links.track_id) as track_id
    from tracks
    left join known using (name_key, artist_key)
    left join {{ ref('stg_enrichment__track_links') }} as links on links.name_track_id = tracks.track_id
    where tracks.track_id like 'name:%' and coalesce(known.track_id, links.track_id) is not null
),

-- one id per song: the smallest known id among the tracks of its name and primary artist (the
-- album and the single of a song are two Spotify tracks, and a name-only play may resolve to either)
songs as (
    select tracks.track_id, coalesce(known.track_id, tracks.track_id) as song_id
    from tracks
    left join known using (name_key, artist_key)
),

resolved as (
    select
        plays.* replace (coalesce(resolution.track_id, plays.track_id) as track_id),
        plays.track_id as landed_track_id,
        plays.track_id like 'name:%' and resolution.track_id is null as is_unresolved
    from {{ ref('stg_spotify__plays') }} as plays
    left join resolution on resolution.name_track_id = plays.track_id
),

timed as (
    select
        resolved.*,
        case when is_scrobble and (ms_played > 0 or durations.duration_ms is not null) then 'track_length'
             when is_scrobble then 'default_length'
             else 'played' end as minutes_basis,
        case when is_scrobble then coalesce(nullif(ms_played, 0), durations.duration_ms, {{ var('scrobble_default_ms') }})
             else ms_played end as counted_ms
    from resolved
    -- only a scrobble's cases read durations; `is_scrobble and` in this condition made DuckDB
    -- join every listener's plays in a nested loop (3 s of a refresh in a household of 3M plays)
    left join {{ ref('int_tracks__durations') }} as durations
        on durations.track_id = resolved.track_id
)

select
    timed.* exclude (counted_ms) replace (
        counted_ms::integer as ms_played,
        case when start_reported then started_at + to_milliseconds(counted_ms) else played_at end as played_at,
        case when start_reported then started_at else played_at - to_milliseconds(counted_ms) end as started_at
    ),
    coalesce(songs.song_id, timed.track_id) as song_id
from timed
left join songs on songs.track_id = timed.track_id
