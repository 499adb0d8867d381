-- Discovery and taste month by month: how many artists were heard for the first time, what
-- share of the month's listening time went to them, how concentrated the listening was on
-- the month's top 10 artists, and the entropy of its artists (in bits: 0 when one artist had
-- all the time, log2(n) when n artists had equal time).
with plays as (
    select *, strftime(local_date, '%Y-%m') as month from {{ ref('int_plays__described') }}
),

first_heard as (
    select listener_id, item_key as artist_key, strftime(first_played_date, '%Y-%m') as first_month
    from {{ ref('stats_first_listens') }}
    where item_kind = 'artist'
),

artist_month as (
    select plays.listener_id, plays.month, plays.artist_key, sum(plays.ms_played) as ms,
           any_value(first_heard.first_month = plays.month) as is_new
    from plays
    inner join first_heard using (listener_id, artist_key)
    group by all
),

shares as (
    select *, ms / sum(ms) over (partition by listener_id, month) as share,
           row_number() over (partition by listener_id, month order by ms desc, artist_key) as artist_rank
    from artist_month
)

select
    listener_id,
    month,
    sum(ms) / 60000.0 as minutes_listened,
    count(*) as distinct_artists,
    count(*) filter (where is_new) as new_artists,
    coalesce(sum(share) filter (where is_new), 0) as new_artist_share,
    sum(share) filter (where artist_rank <= 10) as top10_artist_share,
    greatest(-sum(share * log2(share)), 0) as artist_entropy_bits
from shares
group by listener_id, month
