-- Plays grouped into sessions: a new session starts when the silence since the end of the
-- latest earlier play is longer than var('session_gap_minutes') (exactly the gap still joins).
-- Incremental: only the tail from int_plays__rebuild_from, which starts at a session start.
{{ config(materialized='incremental', incremental_strategy='append', on_schema_change='append_new_columns',
          pre_hook="{{ delete_rebuilt_tail('started_at') }}") }}
-- depends_on: {{ ref('int_plays__rebuild_from') }}
with plays as (
    select deduplicated.*
    from {{ ref('int_plays__deduplicated') }} as deduplicated
    where {{ in_rebuilt_tail('deduplicated.listener_id', 'deduplicated.started_at') }}
),
gaps as (
    select
        *,
        started_at - max(played_at) over (
            partition by listener_id
            order by started_at, played_at, track_id
            rows between unbounded preceding and 1 preceding
        ) as gap_before
    from plays
),

numbered as (
    select
        *,
        sum(case when gap_before is null or gap_before > to_minutes({{ var('session_gap_minutes') }}) then 1 else 0 end)
            over (partition by listener_id order by started_at, played_at, track_id rows unbounded preceding)
            as session_number
    from gaps
)

select
    * exclude (session_number),
    -- stable id: the listener and the start of the session's first play (Unix ms)
    listener_id || '-' || epoch_ms(
        min(started_at) over (partition by listener_id, session_number)
    )::varchar as session_id,
    row_number() over (
        partition by listener_id, session_number order by started_at, played_at, track_id
    ) as position_in_session,
    -- the gap these sessions were cut with: a build with another gap rebuilds them all
    {{ var('session_gap_minutes') }} as session_gap_minutes
from numbered
