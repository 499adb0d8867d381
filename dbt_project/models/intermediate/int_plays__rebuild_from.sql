-- Where an incremental build of the play models starts, per listener: the start of the
-- earliest session that new data can change. Everything before it stays as built.
--
-- New data = plays or tracks landed after the newest play the previous build kept (a duplicate
-- that landed later is looked at again next time: harmless), a listener's new timezone, or
-- a new var('session_gap_minutes').
-- A late play at time t can join or merge any session that ends within the session gap of t,
-- and dedupe with a play up to a minute (a scrobble: 90 s) away, so the build restarts at the start of the
-- earliest stored session with a play ending after t - gap - 1 minute (or at t itself, if
-- that is earlier). A track that resolves account-data plays by name restarts at the first
-- such play (so does a link a provider found for the names); a new timezone or session gap
-- rebuilds the listener whole (rebuild_from null).
-- Listeners without a row here have nothing new: their rows are left alone.
-- The previous build is read without ref() (it is downstream of this model). A table, not a
-- view: it must keep the answer it gave before the models below it changed.
{{ config(materialized='table') }}
-- depends_on: {{ ref('int_plays__track_resolved') }}
-- depends_on: {{ ref('stg_spotify__tracks') }}
-- depends_on: {{ ref('stg_enrichment__track_links') }}
-- depends_on: {{ ref('stg_spotify__listeners') }}
{%- set previous = adapter.get_relation(database=this.database, schema=this.schema,
                                        identifier='int_plays__sessionized') %}
{#- a view or an older table (built before its newest column, minutes_basis, existed) counts as
    no previous build: every listener is rebuilt whole, new columns filled -#}
{%- if previous is not none and (previous.type != 'table' or 'minutes_basis' not in
        (adapter.get_columns_in_relation(previous) | map(attribute='name') | list)) %}
    {%- set previous = none %}
{%- endif %}
{%- set tolerance = [var('account_data_tolerance_seconds'), var('scrobble_tolerance_seconds')] | max %}
{%- set gap_and_tolerance = "to_minutes(" ~ var('session_gap_minutes') ~ ") + to_seconds(" ~ tolerance ~ ")" %}

{% if previous is none %}
select distinct listener_id, null::timestamp as rebuild_from
from {{ ref('stg_spotify__plays') }}
{% else %}
with watermark as (
    select coalesce(max(loaded_at), '-infinity'::timestamp) as loaded_until from {{ previous }}
),

new_plays as (
    select listener_id, min(started_at) as earliest
    from {{ ref('stg_spotify__plays') }}
    where loaded_at > (select loaded_until from watermark)
    group by listener_id
),

newly_resolved as (
    select listener_id, min(started_at) as earliest
    from {{ ref('int_plays__track_resolved') }}
    where landed_track_id like 'name:%'
      and (track_id in (select track_id from {{ ref('stg_spotify__tracks') }}
                        where loaded_at > (select loaded_until from watermark))
           or landed_track_id in (select name_track_id from {{ ref('stg_enrichment__track_links') }}
                                  where loaded_at > (select loaded_until from watermark)))
    group by listener_id
),

earliest_change as (
    select listener_id, min(earliest) as earliest
    from (select * from new_plays union all select * from newly_resolved)
    group by listener_id
),

-- stored sessions that end close enough to a change to be touched by it (only the recent end
-- of the history is read), and where they start (their first play)
touched as (
    select distinct built.listener_id, built.session_id
    from {{ previous }} as built
    inner join earliest_change as c using (listener_id)
    where built.played_at >= c.earliest - ({{ gap_and_tolerance }})
),

touched_starts as (
    select built.listener_id, built.started_at as session_start
    from {{ previous }} as built
    where built.position_in_session = 1
      and exists (select 1 from touched
                  where touched.listener_id = built.listener_id and touched.session_id = built.session_id)
),

restart as (
    select c.listener_id, least(c.earliest, min(s.session_start)) as rebuild_from
    from earliest_change as c
    left join touched_starts as s using (listener_id)
    group by c.listener_id, c.earliest
),

-- a new timezone changes every local time; a new session gap every session: rebuild whole
retimed as (
    select listeners.listener_id
    from {{ ref('stg_spotify__listeners') }} as listeners
    inner join (select distinct listener_id, timezone, session_gap_minutes from {{ previous }}) as built
        using (listener_id)
    where listeners.timezone <> built.timezone
       or built.session_gap_minutes <> {{ var('session_gap_minutes') }}
)

select
    restart.listener_id,
    case when restart.listener_id in (select listener_id from retimed) then null else restart.rebuild_from end
        as rebuild_from
from restart
union all
select listener_id, null
from retimed
where listener_id not in (select listener_id from restart)
{% endif %}
