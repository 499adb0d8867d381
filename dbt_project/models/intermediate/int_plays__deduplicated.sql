-- One row per real play across sources, in the listener's local time.
--
-- The same play can land from the API, the extended history, the account data, the demo and
-- the scrobblers. Records are compared per song (song_id: one id for the versions of a track with
-- the same name and primary artist, so a name-only play and a play of another release of the song
-- meet). Two of Spotify's records are the same play when their end times
-- are at most var('same_play_tolerance_seconds') apart, or var('account_data_tolerance_seconds')
-- between the account data, whose endTime is cut to the minute, and another source. Replays of
-- a track are further apart than that: a play lasts at least a few seconds and the next one
-- ends at least that much later. Two account-data records are never one play: they are a
-- minute apart at least (the loader already made the records of one minute one play), and a
-- replay of a short track can end a minute after the last.
-- Of a group, the most precise source is kept (API, extended history, demo, account data), and
-- of that source the longest record: a handover between devices logs the play and, ending a
-- few seconds apart, a tail of a second or two on the other device (seen in real exports).
-- A scrobble (Last.fm, ListenBrainz: timed by its start, its end only estimated) is then left
-- out when any of Spotify's records of the song started at most var('scrobble_tolerance_seconds')
-- and half the shorter play from it (a replay starts a whole play later; Spotify's start is its
-- end minus the time played, so pauses move it), and a Last.fm scrobble when a ListenBrainz one
-- is that close. Two scrobbles of one service are never one play (the loader already made a
-- repeat one). So any order or repetition of imports gives the same rows.
--
-- Incremental: only the tail from int_plays__rebuild_from is recomputed (see the macro
-- in_rebuilt_tail); a tail starts a session, so no group of duplicates straddles it.
{{ config(materialized='incremental', incremental_strategy='append', on_schema_change='append_new_columns',
          pre_hook="{{ delete_rebuilt_tail('started_at') }}") }}
-- depends_on: {{ ref('int_plays__rebuild_from') }}
with plays as (
    select
        resolved.*,
        coalesce(resolved.song_id, resolved.track_id) as song,
        case resolved.source
            when 'spotify_api' then 1
            when 'extended_history' then 2
            when 'demo' then 3
            else 4
        end as source_priority
    from {{ ref('int_plays__track_resolved') }} as resolved
    -- a play ends after it starts: the bound on the end time lets DuckDB skip raw's older row groups
    where {{ in_rebuilt_tail('resolved.listener_id', 'resolved.started_at') }}
      and {{ rebuilt_tail_since('resolved.played_at') }}
),

spotify as (
    select * from plays where not coalesce(is_scrobble, false)
),

ordered as (
    select
        *,
        lag(played_at) over same_song as previous_played_at,
        lag(source) over same_song as previous_source
    from spotify
    window same_song as (
        partition by listener_id, song
        order by played_at, source_priority, ms_played desc, ingest_run_id
    )
),

grouped as (
    select
        *,
        sum(
            case
                when previous_played_at is null then 1
                when source = 'account_data' and previous_source = 'account_data' then 1
                when date_diff('millisecond', previous_played_at, played_at) > 1000 * (
                    case when 'account_data' in (source, previous_source)
                         then {{ var('account_data_tolerance_seconds') }}
                         else {{ var('same_play_tolerance_seconds') }} end
                ) then 1
                else 0
            end
        ) over (
            partition by listener_id, song
            order by played_at, source_priority, ms_played desc, ingest_run_id
            rows unbounded preceding
        ) as same_play_group
    from ordered
),

ranked as (
    select
        *,
        row_number() over (
            partition by listener_id, song, same_play_group
            order by source_priority, ms_played desc, played_at, ingest_run_id
        ) as rank_in_group
    from grouped
),

kept_spotify as (
    select * exclude (previous_played_at, previous_source, same_play_group, rank_in_group)
    from ranked
    where rank_in_group = 1
),

scrobbles as (
    select * from plays where coalesce(is_scrobble, false)
),

-- a scrobble of a play one of Spotify's records holds, or (Last.fm) one ListenBrainz holds too
scrobbled_elsewhere as (
    select distinct s.listener_id, s.track_id, s.played_at, s.source
    from scrobbles as s
    inner join (
        select listener_id, song, track_id, started_at, played_at, ms_played, 'spotify' as source from spotify
        union all
        select listener_id, song, track_id, started_at, played_at, ms_played, source from scrobbles
        where source = 'listenbrainz'
    ) as other
        on other.listener_id = s.listener_id and other.song = s.song and other.source <> s.source
       and (abs(date_diff('millisecond', other.started_at, s.started_at))
                <= least(1000 * {{ var('scrobble_tolerance_seconds') }}, least(other.ms_played, s.ms_played) / 2)
            -- never two rows of one key, however the times fell
            or (other.track_id = s.track_id and other.played_at = s.played_at))
),

kept as (
    select * from kept_spotify
    union all by name
    select scrobbles.* from scrobbles
    anti join scrobbled_elsewhere as elsewhere using (listener_id, track_id, played_at, source)
)

select
    kept.* exclude (source_priority, song),
    listeners.timezone,
    {{ to_local('kept.started_at', 'listeners.timezone') }} as local_started_at,
    {{ to_local('kept.played_at', 'listeners.timezone') }} as local_played_at
from kept
inner join {{ ref('stg_spotify__listeners') }} as listeners using (listener_id)
