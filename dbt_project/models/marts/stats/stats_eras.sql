-- The release years of what was played, per period (years, months, the last 12 months): time by
-- release decade, and per period the average release year (weighted by time), the release year
-- heard most, and how much of the time has a release year at all (dated_share: the years come
-- from the keyless enrichment's MusicBrainz releases, so coverage varies).
with plays as (
    select * from {{ ref('int_plays__counted') }}
),

periods as (
    {{ listening_periods('plays') }}
),

period_plays as (
    {{ plays_in_periods('plays', 'periods') }}
),

per_period as (
    select listener_id, period_kind, period,
           sum(ms_played) filter (where release_year is not null) as ms_dated,
           sum(ms_played) filter (where release_year is not null) / nullif(sum(ms_played), 0) as dated_share,
           sum(ms_played * release_year) filter (where release_year is not null)
               / nullif(sum(ms_played) filter (where release_year is not null), 0) as average_release_year
    from period_plays
    group by all
),

top_year as (
    select listener_id, period_kind, period, release_year as top_release_year
    from (select listener_id, period_kind, period, release_year, sum(ms_played) as ms
          from period_plays where release_year is not null group by all)
    qualify row_number() over (partition by listener_id, period_kind, period order by ms desc, release_year) = 1
),

decades as (
    select listener_id, period_kind, period, (release_year // 10) * 10 as release_decade,
           sum(ms_played) as ms_played
    from period_plays
    where release_year is not null
    group by all
)

select
    decades.listener_id,
    decades.period_kind,
    decades.period,
    decades.release_decade,
    decades.ms_played / 60000.0 as minutes_listened,
    decades.ms_played / nullif(per_period.ms_dated, 0) as share,
    per_period.dated_share,
    per_period.average_release_year,
    top_year.top_release_year
from decades
inner join per_period using (listener_id, period_kind, period)
left join top_year using (listener_id, period_kind, period)
