-- Lists across the household, ten rows each: `household_top` (other_listener_id null), the
-- artists with the most time of all listeners together; `missed`, per pair, the artists a
-- listener spends most time on that the other never played (ListenBrainz's "top missed",
-- among the household). A household of one has only its top list.
with artist_time as (
    select listener_id, artist_key, any_value(artist_name) as artist_name, sum(ms_played) as ms_played,
           count(*) as plays
    from {{ ref('int_plays__counted') }}
    group by all
),

household_top as (
    select 'household_top' as list_kind, null::varchar as listener_id, null::varchar as other_listener_id,
           artist_key, any_value(artist_name) as artist_name, sum(ms_played) as ms_played, sum(plays) as plays,
           count(*) as listeners
    from artist_time
    group by artist_key
),

missed as (
    select 'missed' as list_kind, mine.listener_id, others.listener_id as other_listener_id, mine.artist_key,
           mine.artist_name, mine.ms_played, mine.plays, 1 as listeners
    from artist_time as mine
    inner join (select distinct listener_id from artist_time) as others on others.listener_id <> mine.listener_id
    where not exists (select 1 from artist_time as theirs
                      where theirs.listener_id = others.listener_id and theirs.artist_key = mine.artist_key)
),

ranked as (
    select *, row_number() over (partition by list_kind, listener_id, other_listener_id
                                 order by ms_played desc, plays desc, artist_name, artist_key) as rank
    from (select * from household_top union all select * from missed)
)

select list_kind, listener_id, other_listener_id, rank, artist_key, artist_name,
       ms_played / 60000.0 as minutes_listened, plays, listeners
from ranked
where rank <= 10
