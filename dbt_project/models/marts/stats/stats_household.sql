-- For each pair of listeners of the household (both directions), over their whole histories:
-- their affinity, the overlap of how they share their time among artists (the sum, over
-- artists, of the smaller of the two shares: 1 = the same artists in the same proportions, 0 =
-- no artist in common; your_spotify's collaborative affinity weighs shared artists by both
-- listeners' time the same way), and the artists and tracks both played.
with artist_time as (
    select listener_id, artist_key, sum(ms_played) as ms_played
    from {{ ref('int_plays__counted') }}
    group by all
),

shares as (
    select *, ms_played / nullif(sum(ms_played) over (partition by listener_id), 0) as share from artist_time
),

tracks as (
    select distinct listener_id, track_id from {{ ref('int_plays__counted') }}
),

listeners as (
    select distinct listener_id from artist_time
),

pairs as (
    select a.listener_id, b.listener_id as other_listener_id
    from listeners as a cross join listeners as b
    where a.listener_id <> b.listener_id
),

overlap as (
    select a.listener_id, b.listener_id as other_listener_id,
           sum(least(a.share, b.share)) as affinity, count(*) as shared_artists
    from shares as a
    inner join shares as b on a.artist_key = b.artist_key and a.listener_id <> b.listener_id
    group by all
),

shared_tracks as (
    select a.listener_id, b.listener_id as other_listener_id, count(*) as shared_tracks
    from tracks as a
    inner join tracks as b on a.track_id = b.track_id and a.listener_id <> b.listener_id
    group by all
)

select
    pairs.listener_id,
    pairs.other_listener_id,
    coalesce(overlap.affinity, 0) as affinity,
    coalesce(overlap.shared_artists, 0) as shared_artists,
    coalesce(shared_tracks.shared_tracks, 0) as shared_tracks
from pairs
left join overlap using (listener_id, other_listener_id)
left join shared_tracks using (listener_id, other_listener_id)
