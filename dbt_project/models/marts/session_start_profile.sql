-- Observed session starts per local hour, scaled so that the busiest hour is 1.0.
-- Incremental by listener: only listeners with new plays (int_plays__rebuild_from) are recomputed.
{{ config(materialized='incremental', incremental_strategy='append', on_schema_change='append_new_columns',
          pre_hook="{{ delete_rebuilt_listeners('int_plays__rebuild_from') }}") }}
-- depends_on: {{ ref('int_plays__rebuild_from') }}
with hours as (
    select listener_id, unnest(range(24)) as local_hour
    from {{ ref('stg_spotify__listeners') }}
    where {{ in_rebuilt_listeners('listener_id', 'int_plays__rebuild_from') }}
),

starts as (
    select listener_id, local_start_hour as local_hour, count(*) as sessions_started
    from {{ ref('fct_sessions') }}
    where {{ in_rebuilt_listeners('listener_id', 'int_plays__rebuild_from') }}
    group by all
)

select
    hours.listener_id,
    hours.local_hour,
    coalesce(starts.sessions_started, 0) as sessions_started,
    coalesce(
        coalesce(starts.sessions_started, 0)
        / nullif(max(starts.sessions_started) over (partition by hours.listener_id), 0),
        0
    ) as relative_frequency
from hours
left join starts using (listener_id, local_hour)
