-- How a listener's genres moved: each calendar year against the year before, and the last 12
-- months against the 12 before them (stats_genre_periods' shares; a genre absent from one side
-- has a share of 0 there). The five that grew most and the five that shrank most of each.
with shares as (
    select listener_id, period_kind, period, genre, share from {{ ref('stats_genre_periods') }}
    where period_kind in ('year', 'last_12_months')
),

-- the period each is compared with: the year before; for the last 12 months, the 12 before
-- them, computed from the plays (they are no period of their own)
previous_12_months as (
    select listener_id, genre, sum(ms_played / len(genres)) as ms_played
    from (select plays.*, unnest(plays.genres) as genre
          from {{ ref('int_plays__counted') }} as plays
          inner join (select listener_id, max(local_date) as last_date from {{ ref('int_plays__counted') }}
                      group by listener_id) as latest using (listener_id)
          where len(plays.genres) > 0
            and plays.local_date between latest.last_date - interval 2 year + interval 1 day
                                     and latest.last_date - interval 1 year)
    group by all
),

before as (
    select listener_id, 'year' as period_kind, (period::integer + 1)::varchar as period, genre, share
    from shares where period_kind = 'year'
    union all
    select listener_id, 'last_12_months', 'last_12_months', genre,
           ms_played / sum(ms_played) over (partition by listener_id)
    from previous_12_months
),

compared as (
    select
        coalesce(now.listener_id, before.listener_id) as listener_id,
        coalesce(now.period_kind, before.period_kind) as period_kind,
        coalesce(now.period, before.period) as period,
        coalesce(now.genre, before.genre) as genre,
        coalesce(now.share, 0) as share,
        coalesce(before.share, 0) as share_before
    from shares as now
    full outer join before using (listener_id, period_kind, period, genre)
),

-- only periods that have both sides: a first year has nothing to grow from
both_sides as (
    select compared.* from compared
    inner join (select distinct listener_id, period_kind, period from shares) using (listener_id, period_kind, period)
    inner join (select distinct listener_id, period_kind, period from before) using (listener_id, period_kind, period)
),

ranked as (
    select *, share - share_before as change,
           row_number() over (partition by listener_id, period_kind, period order by share - share_before desc, genre)
               as grew_rank,
           row_number() over (partition by listener_id, period_kind, period order by share - share_before, genre)
               as shrank_rank
    from both_sides
)

select listener_id, period_kind, period, genre, share, share_before, change,
       case when grew_rank <= 5 and change > 0 then 'grew' else 'shrank' end as direction,
       case when grew_rank <= 5 and change > 0 then grew_rank else shrank_rank end as rank
from ranked
where (grew_rank <= 5 and change > 0) or (shrank_rank <= 5 and change < 0)
