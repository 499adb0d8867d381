-- The figures of each period a listener looks back on: every calendar year and month with
-- listening, and the 12 months up to the listener's latest play (`last_12_months`), in local
-- time. Shares are of listening time (null for a period whose plays all lasted 0 ms). Skip rates count only plays whose source reports skips
-- (the privacy export's extended history does; the API and the account data do not), and say
-- what share of the period's plays that is.
with plays as (
    select * from {{ ref('int_plays__counted') }}
),

periods as (
    {{ listening_periods('plays') }}
),

period_plays as (
    {{ plays_in_periods('plays', 'periods') }}
),

-- the day each artist was first heard, over the whole history
first_heard as (
    select listener_id, artist_key, min(local_date) as first_date
    from plays
    group by all
),

totals as (
    select
        listener_id, period_kind, period, any_value(period_start) as period_start,
        any_value(period_end) as period_end,
        sum(ms_played) / 60000.0 as minutes_listened,
        count(*) as plays,
        count(distinct track_id) as distinct_tracks,
        count(distinct artist_key) as distinct_artists,
        {% for part in ['night', 'morning', 'afternoon', 'evening'] -%}
        sum(ms_played) filter (where part_of_day = '{{ part }}') / nullif(sum(ms_played), 0) as share_{{ part }},
        {% endfor -%}
        {% for day in ['monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday', 'sunday'] -%}
        sum(ms_played) filter (where local_dow = {{ loop.index0 }}) / nullif(sum(ms_played), 0) as share_{{ day }},
        {% endfor -%}
        count(*) filter (where skip_reported) as plays_with_skip_info,
        count(*) filter (where skip_reported and is_skipped) as skipped_plays
    from period_plays
    group by listener_id, period_kind, period
),

busiest_day as (
    select listener_id, period_kind, period, local_date as busiest_day, minutes as busiest_day_minutes
    from (
        select listener_id, period_kind, period, local_date, sum(ms_played) / 60000.0 as minutes
        from period_plays
        group by all
    )
    qualify row_number() over (partition by listener_id, period_kind, period order by minutes desc, local_date) = 1
),

longest_session as (
    select periods.listener_id, periods.period_kind, periods.period,
           sessions.duration_minutes as longest_session_minutes,
           sessions.local_started_at as longest_session_started_at
    from periods
    inner join {{ ref('fct_sessions') }} as sessions
        on sessions.listener_id = periods.listener_id
       and cast(sessions.local_started_at as date) between periods.period_start and periods.period_end
    qualify row_number() over (partition by periods.listener_id, periods.period_kind, periods.period
                               order by sessions.duration_minutes desc, sessions.local_started_at) = 1
),

-- the longest run of consecutive listening days inside the period (gaps and islands)
period_streaks as (
    select listener_id, period_kind, period, days as longest_streak_days, start_date as longest_streak_start
    from (
        select listener_id, period_kind, period, min(local_date) as start_date, count(*) as days
        from (select *, local_date - cast(row_number() over (partition by listener_id, period_kind, period
                                                             order by local_date) as integer) as island
              from (select distinct listener_id, period_kind, period, local_date from period_plays))
        group by listener_id, period_kind, period, island
    )
    qualify row_number() over (partition by listener_id, period_kind, period order by days desc, start_date) = 1
),

new_artists as (
    select period_plays.listener_id, period_kind, period,
           count(distinct period_plays.artist_key) filter (where first_heard.first_date >= period_start)
               as new_artists,
           coalesce(sum(ms_played) filter (where first_heard.first_date >= period_start), 0)
               / nullif(sum(ms_played), 0) as new_artist_share
    from period_plays
    inner join first_heard using (listener_id, artist_key)
    group by all
)

select
    totals.*,
    busiest_day.busiest_day,
    busiest_day.busiest_day_minutes,
    longest_session.longest_session_minutes,
    longest_session.longest_session_started_at,
    new_artists.new_artists,
    new_artists.new_artist_share,
    period_streaks.longest_streak_days,
    period_streaks.longest_streak_start,
    plays_with_skip_info / plays as skip_info_share,
    skipped_plays / nullif(plays_with_skip_info, 0) as skip_rate
from totals
left join busiest_day using (listener_id, period_kind, period)
left join longest_session using (listener_id, period_kind, period)
left join new_artists using (listener_id, period_kind, period)
left join period_streaks using (listener_id, period_kind, period)
