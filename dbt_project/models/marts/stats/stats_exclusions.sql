-- What the settings leave out of the statistics, per listener: the settings themselves (the
-- lists as given to dbt, lower-cased) and the plays and minutes each reason took out
-- (int_plays__described.excluded_because), so the export can state them.
with excluded as (
    select listener_id, excluded_because, ms_played from {{ ref('int_plays__described') }}
    where excluded_because is not null
)

select
    listeners.listener_id,
    [{{ quoted_list(var('stats_exclude_artists') | map('lower') | list) }}]::varchar[] as exclude_artists,
    [{{ quoted_list(var('stats_exclude_tracks') | map('lower') | list) }}]::varchar[] as exclude_tracks,
    {{ var('stats_min_play_ms') }} // 1000 as min_play_seconds,
    count(excluded.listener_id) as plays_excluded,
    coalesce(sum(excluded.ms_played), 0) / 60000.0 as minutes_excluded,
    {%- for reason in ['artist', 'track', 'shorter_than_minimum'] %}
    count(*) filter (where excluded.excluded_because = '{{ reason }}') as plays_excluded_{{ reason }}
    {{- "," if not loop.last }}
    {%- endfor %}
from {{ ref('stg_spotify__listeners') }} as listeners
left join excluded using (listener_id)
group by listeners.listener_id
