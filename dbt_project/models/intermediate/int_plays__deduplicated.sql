-- One row per real play across sources, in the listener's local time.
--
-- The same play can land from the API, the extended history, the account data and the demo.
-- Two records are the same play when listener and (resolved) track agree and their end times
-- are at most var('same_play_tolerance_seconds') apart, or var('account_data_tolerance_seconds')
-- between the account data, whose endTime is cut to the minute, and another source. Replays of
-- a track are further apart than that: a play lasts at least a few seconds and the next one
-- ends at least that much later. Two account-data records are never one play: they are a
-- minute apart at least (the loader already made the records of one minute one play), and a
-- replay of a short track can end a minute after the last.
-- A scrobble (Last.fm, ListenBrainz: timed by its start, its end only estimated) and another
-- record are compared by their start times instead: the same play when they are at most
-- var('scrobble_tolerance_seconds') apart and less than half the shorter play (a replay starts a
-- whole play later; Spotify's start is its end minus the time played, so pauses move it). Two
-- records of one scrobbler are never one play (the loader already made a repeat one).
-- Of a group, the most precise source is kept (API, extended history, demo, account data,
-- ListenBrainz, Last.fm), so any order or repetition of imports gives the same rows.
--
-- Incremental: only the tail from int_plays__rebuild_from is recomputed (see the macro
-- in_rebuilt_tail); a tail starts a session, so no group of duplicates straddles it.
{{ config(materialized='incremental', incremental_strategy='append', on_schema_change='append_new_columns',
          pre_hook="{{ delete_rebuilt_tail('started_at') }}") }}
-- depends_on: {{ ref('int_plays__rebuild_from') }}
with plays as (
    select
        resolved.*,
        case resolved.source
            when 'spotify_api' then 1
            when 'extended_history' then 2
            when 'demo' then 3
            when 'account_data' then 4
            when 'listenbrainz' then 5
            else 6
        end as source_priority
    from {{ ref('int_plays__track_resolved') }} as resolved
    -- a play ends after it starts: the bound on the end time lets DuckDB skip raw's older row groups
    where {{ in_rebuilt_tail('resolved.listener_id', 'resolved.started_at') }}
      and {{ rebuilt_tail_since('resolved.played_at') }}
),
ordered as (
    select
        *,
        lag(played_at) over same_track as previous_played_at,
        lag(started_at) over same_track as previous_started_at,
        lag(ms_played) over same_track as previous_ms_played,
        lag(source) over same_track as previous_source,
        lag(is_scrobble) over same_track as previous_is_scrobble
    from plays
    window same_track as (
        partition by listener_id, track_id
        order by played_at, source_priority, ms_played desc, ingest_run_id
    )
),

grouped as (
    select
        *,
        sum(
            case
                when previous_played_at is null then 1
                when source = previous_source and source in ('account_data', 'lastfm', 'listenbrainz') then 1
                when is_scrobble or previous_is_scrobble then (
                    abs(date_diff('millisecond', previous_started_at, started_at))
                    > least(1000 * {{ var('scrobble_tolerance_seconds') }}, least(ms_played, previous_ms_played) / 2)
                )::integer
                when date_diff('millisecond', previous_played_at, played_at) > 1000 * (
                    case when 'account_data' in (source, previous_source)
                         then {{ var('account_data_tolerance_seconds') }}
                         else {{ var('same_play_tolerance_seconds') }} end
                ) then 1
                else 0
            end
        ) over (
            partition by listener_id, track_id
            order by played_at, source_priority, ms_played desc, ingest_run_id
            rows unbounded preceding
        ) as same_play_group
    from ordered
),

ranked as (
    select
        *,
        row_number() over (
            partition by listener_id, track_id, same_play_group
            order by source_priority, played_at, ms_played desc, ingest_run_id
        ) as rank_in_group
    from grouped
)

select
    ranked.* exclude (source_priority, previous_played_at, previous_started_at, previous_ms_played, previous_source,
                      previous_is_scrobble, same_play_group, rank_in_group),
    listeners.timezone,
    {{ to_local('ranked.started_at', 'listeners.timezone') }} as local_started_at,
    {{ to_local('ranked.played_at', 'listeners.timezone') }} as local_played_at
from ranked
inner join {{ ref('stg_spotify__listeners') }} as listeners using (listener_id)
where ranked.rank_in_group = 1
