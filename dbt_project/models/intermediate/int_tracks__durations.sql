-- A track's length, where something measured it, for the minutes of scrobbles (which give no
-- play time): the Spotify catalogue's duration, else the median time played of the plays that
-- Spotify's extended history says ran to the end (reason_end 'trackdone'). Tracks without
-- either get var('scrobble_default_ms') in int_plays__track_resolved, flagged.
{{ config(materialized='table') }}
with finished as (
    select track_id, median(ms_played)::bigint as duration_ms
    from {{ ref('stg_spotify__plays') }}
    where reason_end = 'trackdone' and ms_played > 0 and track_id not like 'name:%'
    group by track_id
)

select
    track_id,
    coalesce(catalogue.duration_ms, finished.duration_ms) as duration_ms,
    case when catalogue.duration_ms is not null then 'catalogue' else 'finished_plays' end as measured_by
from finished
full outer join (
    select track_id, duration_ms from {{ ref('stg_spotify__tracks') }} where duration_ms > 0
) as catalogue using (track_id)
