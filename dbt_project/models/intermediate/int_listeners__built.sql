-- When each listener's mood- and genre-dependent marts were last rebuilt, and with which mood
-- clustering: what int_listeners__rebuild compares the next build with.
{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key='listener_id') }}
select
    rebuild.listener_id,
    (select coalesce(any_value(mood_run_id), 'none') from {{ ref('stg_ml__mood_clusters') }}) as mood_run_id,
    timezone('UTC', now()) as built_at
from {{ ref('int_listeners__rebuild') }} as rebuild
