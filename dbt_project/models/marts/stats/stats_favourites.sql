-- Two lists of tracks per listener, as of the local day of the listener's latest play:
-- `on_repeat`, the 10 tracks most played in the last 14 days, with how often they were played in
-- an average 14 days before (the listener's usual); and `forgotten`, the 10 tracks most played
-- before the last six months (at least var('forgotten_min_plays') times) and not since.
with plays as (
    select * from {{ ref('int_plays__counted') }}
),

bounds as (
    select listener_id, max(local_date) as as_of_date, min(local_date) as first_date
    from plays group by listener_id
),

per_track as (
    select
        plays.listener_id,
        plays.track_id,
        any_value(plays.track_name) as track_name,
        any_value(plays.artist_name) as artist_name,
        count(*) filter (where plays.local_date > bounds.as_of_date - 14) as recent_plays,
        count(*) filter (where plays.local_date <= bounds.as_of_date - 14) as plays_before_recent,
        count(*) filter (where plays.local_date <= bounds.as_of_date - interval 6 months) as plays_before_six_months,
        count(*) filter (where plays.local_date > bounds.as_of_date - interval 6 months) as plays_in_six_months,
        max(plays.local_date) as last_played_date,
        -- 14-day periods of history before the last 14 days (at least one)
        greatest(any_value(bounds.as_of_date - 14 - bounds.first_date + 1), 14) / 14.0 as periods_before
    from plays
    inner join bounds using (listener_id)
    group by plays.listener_id, plays.track_id
),

on_repeat as (
    select 'on_repeat' as list_kind, *, plays_before_recent / periods_before as usual_plays_per_14_days,
           row_number() over (partition by listener_id order by recent_plays desc, plays_before_recent, track_id)
               as rank
    from per_track
    where recent_plays > 0
),

forgotten as (
    select 'forgotten' as list_kind, *, plays_before_recent / periods_before as usual_plays_per_14_days,
           row_number() over (partition by listener_id order by plays_before_six_months desc, track_id) as rank
    from per_track
    where plays_in_six_months = 0 and plays_before_six_months >= {{ var('forgotten_min_plays') }}
)

select listener_id, list_kind, rank, track_id, track_name, artist_name, recent_plays, usual_plays_per_14_days,
       plays_before_six_months, last_played_date
from (select * from on_repeat union all by name select * from forgotten)
where rank <= 10
