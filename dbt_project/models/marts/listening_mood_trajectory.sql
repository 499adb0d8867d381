-- Mean valence and energy per 15-minute bin over the last 24 hours of each listener's listening.
with last_play as (
    select listener_id, max(played_at) as last_played_at
    from {{ ref('fct_plays') }}
    group by listener_id
)

select
    plays.listener_id,
    time_bucket(interval 15 minutes, plays.started_at) as bin_start_utc,
    avg(tracks.valence) as valence,
    avg(tracks.energy) as energy,
    count(*) as play_count
from {{ ref('fct_plays') }} as plays
inner join last_play using (listener_id)
inner join {{ ref('dim_tracks') }} as tracks using (track_id)
where plays.started_at > last_play.last_played_at - interval 24 hours
  and tracks.has_audio_features
group by all
