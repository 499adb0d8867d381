-- One row per real play, in the listener's local time.
-- The same play can land from several sources (API, privacy exports, demo); two rows are the
-- same play when listener, track and end time to the second agree. The most precise source wins.
with plays as (
    select * from {{ ref('stg_spotify__plays') }}
),

ranked as (
    select
        *,
        row_number() over (
            partition by listener_id, track_id, date_trunc('second', played_at)
            order by
                case source
                    when 'spotify_api' then 1
                    when 'extended_history' then 2
                    when 'demo' then 3
                    else 4
                end,
                loaded_at,
                ingest_run_id
        ) as source_rank
    from plays
)

select
    ranked.* exclude (source_rank),
    listeners.timezone,
    {{ to_local('ranked.started_at', 'listeners.timezone') }} as local_started_at,
    {{ to_local('ranked.played_at', 'listeners.timezone') }} as local_played_at
from ranked
inner join {{ ref('stg_spotify__listeners') }} as listeners using (listener_id)
where ranked.source_rank = 1
