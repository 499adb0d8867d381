-- Discovery and taste month by month: how many artists were heard for the first time, what
-- share of the month's listening time went to them, how concentrated the listening was on
-- the month's top 10 artists, and the entropy of its artists (in bits: 0 when one artist had
-- all the time, log2(n) when n artists had equal time). A month whose plays all lasted 0 ms
-- (real exports hold whole months of them) has no shares: those figures are null.
with plays as (
    select *, strftime(local_date, '%Y-%m') as month from {{ ref('int_plays__counted') }}
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
    select *, ms / nullif(sum(ms) over (partition by listener_id, month), 0) as share,
           row_number() over (partition by listener_id, month order by ms desc, artist_key) as artist_rank
    from artist_month
)

select
    listener_id,
    month,
    sum(ms) / 60000.0 as minutes_listened,
    count(*) as distinct_artists,
    count(*) filter (where is_new) as new_artists,
    case when sum(ms) > 0 then coalesce(sum(share) filter (where is_new), 0) end as new_artist_share,
    sum(share) filter (where artist_rank <= 10) as top10_artist_share,
    -- an artist with no time adds nothing (share · log2 share -> 0 as share -> 0)
    case when sum(ms) > 0 then greatest(-sum(case when share > 0 then share * log2(share) else 0 end), 0) end
        as artist_entropy_bits
from shares
group by listener_id, month
