-- Top 10 tracks, artists, albums and genres of each period (stats_period_summary's periods) by
-- listening time, and its discoveries (artists first heard in the period); ties go to more
-- plays, then the name. A play's time is split evenly over its artist's genres; plays without
-- a genre are left out of the genre list.
with plays as (
    select * from {{ ref('int_plays__counted') }}
),

periods as (
    {{ listening_periods('plays') }}
),

-- the day each artist was first heard, over the whole history
first_heard as (
    select listener_id, artist_key, min(local_date) as first_date from plays group by all
),

period_plays as (
    {{ plays_in_periods('plays', 'periods') }}
),

items as (
    select listener_id, period_kind, period, 'track' as item_kind, track_id as item_key,
           any_value(track_name) as item_name, any_value(artist_name) as artist_name,
           sum(ms_played) as ms_played, count(*) as plays
    from period_plays group by all
    union all
    select listener_id, period_kind, period, 'artist', artist_key, any_value(artist_name), any_value(artist_name),
           sum(ms_played), count(*)
    from period_plays group by all
    union all
    select listener_id, period_kind, period, 'album', album_key, any_value(album_name), any_value(artist_name),
           sum(ms_played), count(*)
    from period_plays where album_name is not null group by all
    union all
    select listener_id, period_kind, period, 'genre', genre, genre, null, sum(ms_played / n_genres), count(*)
    from (select *, unnest(genres) as genre, len(genres) as n_genres from period_plays where len(genres) > 0)
    group by all
    union all
    select listener_id, period_kind, period, 'discovery', artist_key, any_value(artist_name), any_value(artist_name),
           sum(ms_played), count(*)
    from period_plays inner join first_heard using (listener_id, artist_key)
    where first_heard.first_date >= period_plays.period_start
    group by all
)

select
    listener_id,
    period_kind,
    period,
    item_kind,
    rank,
    item_key,
    item_name,
    artist_name,
    ms_played / 60000.0 as minutes_listened,
    plays
from (
    select *, row_number() over (partition by listener_id, period_kind, period, item_kind
                                 order by ms_played desc, plays desc, item_name, item_key) as rank
    from items
)
where rank <= 10
