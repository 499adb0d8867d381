-- Share of listening time by genre: overall, by part of day and by mood cluster.
-- A play's time is split evenly over its primary artist's genres; plays whose artist has
-- no genre are left out of the shares.
-- Incremental by listener: only the listeners in int_listeners__rebuild are recomputed.
{{ config(materialized='incremental', incremental_strategy='append', on_schema_change='append_new_columns',
          pre_hook="{{ delete_rebuilt_listeners('int_listeners__rebuild') }}") }}
-- depends_on: {{ ref('int_listeners__rebuild') }}
-- Plays and moods joined here, not read from int_plays__mood_states: that view's window functions
-- ran over every listener's plays before the filter (20 s a refresh in a household of 10M plays).
with plays as (
    select plays.listener_id, plays.ms_played, plays.part_of_day, moods.mood_cluster_id, tracks.genres
    from {{ ref('fct_plays') }} as plays
    left join {{ ref('stg_ml__track_moods') }} as moods using (track_id)
    inner join {{ ref('dim_tracks') }} as tracks using (track_id)
    where len(tracks.genres) > 0
      and {{ in_rebuilt_listeners('plays.listener_id', 'int_listeners__rebuild') }}
),

genre_time as (
    select listener_id, part_of_day, mood_cluster_id, unnest(genres) as genre, ms_played / len(genres) as ms
    from plays
),

profiles as (
    select listener_id, 'overall' as profile_kind, 'all' as profile_key, genre, sum(ms) as ms_played
    from genre_time group by all
    union all
    select listener_id, 'part_of_day', part_of_day, genre, sum(ms)
    from genre_time group by all
    union all
    select listener_id, 'mood', mood_cluster_id::varchar, genre, sum(ms)
    from genre_time where mood_cluster_id is not null group by all
)

select
    listener_id,
    profile_kind,
    profile_key,
    genre,
    ms_played,
    -- null when every play of the profile lasted 0 ms
    ms_played / nullif(sum(ms_played) over (partition by listener_id, profile_kind, profile_key), 0) as share,
    row_number() over (
        partition by listener_id, profile_kind, profile_key order by ms_played desc, genre
    ) as genre_rank
from profiles
