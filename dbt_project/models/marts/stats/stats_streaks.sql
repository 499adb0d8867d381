-- Streaks, one row per listener, as of the local day of the listener's latest play: the run
-- of consecutive listening days ending that day (current) and the longest ever, and the
-- longest run of consecutive plays by one artist. Ties go to the earliest.
with plays as (
    select * from {{ ref('int_plays__counted') }}
),

days as (
    select distinct listener_id, local_date from plays
),

day_runs as (
    -- consecutive dates share (date - its row number): the classic gaps and islands
    select listener_id, min(local_date) as start_date, max(local_date) as end_date, count(*) as days
    from (select *, local_date - cast(row_number() over (partition by listener_id order by local_date) as integer)
                        as island
          from days)
    group by listener_id, island
),

as_of as (
    select listener_id, max(local_date) as as_of_date from days group by listener_id
),

longest_days as (
    select * from day_runs
    qualify row_number() over (partition by listener_id order by days desc, start_date) = 1
),

artist_runs as (
    select listener_id, artist_key, any_value(artist_name) as artist_name, count(*) as plays,
           min(local_started_at) as started_at
    from (select *,
                 row_number() over (partition by listener_id order by started_at, played_at, track_id)
                 - row_number() over (partition by listener_id, artist_key order by started_at, played_at, track_id)
                     as island
          from plays)
    group by listener_id, artist_key, island
),

longest_artist_run as (
    select * from artist_runs
    qualify row_number() over (partition by listener_id order by plays desc, started_at) = 1
)

select
    as_of.listener_id,
    as_of.as_of_date,
    coalesce(current_run.days, 0) as current_streak_days,
    current_run.start_date as current_streak_start,
    longest_days.days as longest_streak_days,
    longest_days.start_date as longest_streak_start,
    longest_days.end_date as longest_streak_end,
    longest_artist_run.artist_key as artist_run_artist_key,
    longest_artist_run.artist_name as artist_run_artist_name,
    longest_artist_run.plays as artist_run_plays,
    longest_artist_run.started_at as artist_run_started_at
from as_of
left join day_runs as current_run
    on current_run.listener_id = as_of.listener_id and current_run.end_date = as_of.as_of_date
left join longest_days on longest_days.listener_id = as_of.listener_id
left join longest_artist_run on longest_artist_run.listener_id = as_of.listener_id
