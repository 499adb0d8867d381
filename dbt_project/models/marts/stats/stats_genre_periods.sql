-- Genre shares of every period (years, months, the last 12 months): a play's time split evenly
-- over its track's genres, as stats_period_top does; shares are of the period's time that has a
-- genre (tagged_share says how much of all its time that is). Ranked by time.
with plays as (
    select * from {{ ref('int_plays__counted') }}
),

periods as (
    {{ listening_periods('plays') }}
),

period_plays as (
    {{ plays_in_periods('plays', 'periods') }}
),

totals as (
    select listener_id, period_kind, period, sum(ms_played) as ms_all,
           sum(ms_played) filter (where len(genres) > 0) as ms_tagged
    from period_plays
    group by all
),

genres as (
    select listener_id, period_kind, period, genre, sum(ms_played / n_genres) as ms_played
    from (select *, unnest(genres) as genre, len(genres) as n_genres from period_plays where len(genres) > 0)
    group by all
)

select
    genres.listener_id,
    genres.period_kind,
    genres.period,
    genres.genre,
    row_number() over (partition by genres.listener_id, genres.period_kind, genres.period
                       order by genres.ms_played desc, genres.genre) as rank,
    genres.ms_played / 60000.0 as minutes_listened,
    genres.ms_played / nullif(totals.ms_tagged, 0) as share,
    totals.ms_tagged / nullif(totals.ms_all, 0) as tagged_share
from genres
inner join totals using (listener_id, period_kind, period)
