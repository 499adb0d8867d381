-- When each track and each artist was first heard by each listener (local time): discovery.
select listener_id, 'track' as item_kind, track_id as item_key, any_value(track_name) as item_name,
       min(local_started_at) as first_played_at, min(local_date) as first_played_date
from {{ ref('int_plays__counted') }}
group by listener_id, track_id
union all
select listener_id, 'artist', artist_key, any_value(artist_name), min(local_started_at), min(local_date)
from {{ ref('int_plays__counted') }}
group by listener_id, artist_key
