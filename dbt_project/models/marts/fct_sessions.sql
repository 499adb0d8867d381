-- One row per listening session.
-- Incremental: sessions starting in the rebuilt tail are written again (a late play can
-- extend or merge them; merged-away session ids are deleted with the tail).
{{ config(materialized='incremental', incremental_strategy='append', on_schema_change='append_new_columns',
          pre_hook="{{ delete_rebuilt_tail('started_at') }}") }}
-- depends_on: {{ ref('int_plays__rebuild_from') }}
select
    session_id,
    listener_id,
    min(started_at) as started_at,
    max(played_at) as ended_at,
    min(local_started_at) as local_started_at,
    hour(min(local_started_at)) as local_start_hour,
    isodow(min(local_started_at)) - 1 as local_start_dow,  -- 0 = Monday
    count(*) as play_count,
    count(*) filter (where is_skipped) as skip_count,
    sum(ms_played)::bigint as ms_played,
    date_diff('second', min(started_at), max(played_at)) / 60.0 as duration_minutes
from {{ ref('int_plays__sessionized') }} as sessionized
where {{ in_rebuilt_tail('sessionized.listener_id', 'sessionized.started_at') }}
group by session_id, listener_id
