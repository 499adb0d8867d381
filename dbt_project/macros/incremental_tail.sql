{#- The play models build incrementally by recomputing each listener's tail: every row at or
    after int_plays__rebuild_from.rebuild_from (null = the whole history of that listener).
    Listeners without a row there have nothing new and are left alone. A plain or
    --full-refresh build computes everything, which must give the same tables. -#}

{% macro in_rebuilt_tail(listener_column, time_column) -%}
{%- if is_incremental() -%}
{{ rebuilt_tail_since(time_column) }}
and exists (
    select 1 from {{ ref('int_plays__rebuild_from') }} as rebuild
    where rebuild.listener_id = {{ listener_column }}
      and {{ time_column }} >= coalesce(rebuild.rebuild_from, '-infinity'::timestamp)
)
{%- else -%}
true
{%- endif -%}
{%- endmacro %}

{% macro written_tail(time_column) -%}
{#- `where` of the data tests on the play tables, which hold every listener's history: the rows
    from the earliest rebuilt tail on (what this build wrote), instead of all of them (4 s of a
    refresh in a household of 10M plays). Everything in a full refresh, on a first build, or
    when a listener was rebuilt whole. -#}
{%- if execute and not flags.FULL_REFRESH -%}
{%- set rebuild = adapter.get_relation(database=target.database, schema='intermediate',
                                       identifier='int_plays__rebuild_from') -%}
{{ tail_bound(time_column, rebuild) if rebuild is not none else 'true' }}
{%- else -%}
true
{%- endif -%}
{%- endmacro %}

{% macro tail_bound(time_column, rebuild) -%}
{%- set bounds = run_query("select count(*), count(*) filter (where rebuild_from is null), "
                           ~ "strftime(min(rebuild_from), '%Y-%m-%d %H:%M:%S.%f') from " ~ rebuild).rows[0] -%}
{%- if bounds[0] == 0 -%}
false
{%- elif bounds[1] > 0 -%}
true
{%- else -%}
{{ time_column }} >= '{{ bounds[2] }}'::timestamp
{%- endif -%}
{%- endmacro %}

{% macro rebuilt_tail_since(time_column) -%}
{#- The earliest tail start as a constant (`false` when no listener has news, `true` when one is
    rebuilt whole): with a constant, DuckDB skips the row groups before it; the join of
    in_rebuilt_tail alone read every listener's whole history (1 s a model in a household of 10M plays). -#}
{%- if is_incremental() and execute -%}
{{ tail_bound(time_column, ref('int_plays__rebuild_from')) }}
{%- else -%}
true
{%- endif -%}
{%- endmacro %}

{% macro delete_rebuilt_tail(time_column) -%}
{#- pre_hook: drop the rows this build writes again (sessions may merge, duplicates may go). -#}
{%- if is_incremental() -%}
delete from {{ this }} as built
using {{ ref('int_plays__rebuild_from') }} as rebuild
where built.listener_id = rebuild.listener_id
  and built.{{ time_column }} >= coalesce(rebuild.rebuild_from, '-infinity'::timestamp)
  and {{ rebuilt_tail_since('built.' ~ time_column) }}
{%- else -%}
select 1
{%- endif -%}
{%- endmacro %}

{% macro delete_rebuilt_hours() -%}
{#- pre_hook of fct_listening_hours: from the tail's first hour, or from the last stored hour
    when that is earlier (new plays after a silence: the hours in between are new too). -#}
{%- if is_incremental() -%}
delete from {{ this }} as built
using (
    select rebuild.listener_id,
           least(coalesce(date_trunc('hour', rebuild.rebuild_from), '-infinity'::timestamp),
                 coalesce(max(stored.hour_start_utc), 'infinity'::timestamp)) as from_hour
    from {{ ref('int_plays__rebuild_from') }} as rebuild
    left join {{ this }} as stored using (listener_id)
    group by rebuild.listener_id, rebuild.rebuild_from
) as rebuild
where built.listener_id = rebuild.listener_id and built.hour_start_utc >= rebuild.from_hour
{%- else -%}
select 1
{%- endif -%}
{%- endmacro %}

{% macro delete_changed_training_hours() -%}
{#- pre_hook of ml_session_start_training, which is built less often than the hourly grid
    (only when models are retrained), so it compares itself with fct_listening_hours and
    fct_plays instead of using int_plays__rebuild_from: per listener, it drops every row from
    the first hour that is new, gone, has other session starts or another local time, or whose
    latest earlier play is no longer the one it was built with (a late play landed before it).
    A table built before its newest column (last_play_at) existed starts again from its key
    columns alone, so no row keeps a null (emptied by drop and create, not by a delete: DuckDB
    cannot add the new columns after a delete in the same transaction). -#}
{%- if is_incremental() -%}
{%- if 'last_play_at' not in (adapter.get_columns_in_relation(this) | map(attribute='name') | list) -%}
drop table {{ this }};
create table {{ this }} (listener_id varchar, hour_start_utc timestamp)
{%- else -%}
delete from {{ this }} as built
using (
    select listener_id, min(from_hour) as from_hour
    from (
        select coalesce(grid.listener_id, stored.listener_id) as listener_id,
               coalesce(grid.hour_start_utc, stored.hour_start_utc) as from_hour
        from {{ ref('fct_listening_hours') }} as grid
        full join {{ this }} as stored
            on stored.listener_id = grid.listener_id and stored.hour_start_utc = grid.hour_start_utc
        where grid.listener_id is null or stored.listener_id is null
           or grid.sessions_started is distinct from stored.sessions_started
           or grid.hour_start_local is distinct from stored.hour_start_local
        union all
        select stored.listener_id, stored.hour_start_utc
        from {{ this }} as stored
        asof left join {{ ref('fct_plays') }} as plays
            on plays.listener_id = stored.listener_id and plays.played_at < stored.hour_start_utc
        where plays.played_at is distinct from stored.last_play_at
    )
    group by 1
) as changed
where built.listener_id = changed.listener_id and built.hour_start_utc >= changed.from_hour
{%- endif -%}
{%- else -%}
select 1
{%- endif -%}
{%- endmacro %}

{#- Per-listener marts (profiles, drift, scoring grids) are rebuilt whole for each listener in
    `listeners` (a model with a listener_id column: int_plays__rebuild_from, or
    int_listeners__rebuild for the marts that also follow moods and enrichment); every other
    listener's rows stay as they are. A plain or --full-refresh build computes everyone. -#}

{% macro in_rebuilt_listeners(listener_column, listeners) -%}
{%- if is_incremental() -%}
{{ listener_column }} in (select listener_id from {{ ref(listeners) }})
{%- else -%}
true
{%- endif -%}
{%- endmacro %}

{% macro delete_rebuilt_listeners(listeners) -%}
{%- if is_incremental() -%}
delete from {{ this }} where listener_id in (select listener_id from {{ ref(listeners) }})
{%- else -%}
select 1
{%- endif -%}
{%- endmacro %}
