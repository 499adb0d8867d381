-- Per listener: the share of plays and of listening time whose track has audio features (so a
-- mood) and whose artist has genres, so a reader knows what the mood and genre figures describe.
-- A view: plays as of the last build, features and genres as of the moment it is read, so the
-- enrichment step can report what it just added before dbt runs again.
{{ config(materialized='view') }}
with plays as (
    select
        plays.listener_id,
        plays.ms_played,
        features.track_id is not null as has_features,
        coalesce(len(artists.genres), 0) > 0 as has_genres
    from {{ ref('fct_plays') }} as plays
    left join {{ ref('stg_spotify__tracks') }} as tracks using (track_id)
    left join {{ ref('stg_spotify__audio_features') }} as features using (track_id)
    left join {{ ref('stg_spotify__artists') }} as artists on artists.artist_id = tracks.primary_artist_id
)

select
    listener_id,
    count(*) as plays,
    sum(ms_played)::bigint as ms_played,
    count(*) filter (where has_features) as plays_with_features,
    count(*) filter (where has_features) / count(*) as plays_with_features_share,
    coalesce(sum(ms_played) filter (where has_features) / nullif(sum(ms_played), 0), 0) as time_with_features_share,
    count(*) filter (where has_genres) as plays_with_genres,
    count(*) filter (where has_genres) / count(*) as plays_with_genres_share,
    coalesce(sum(ms_played) filter (where has_genres) / nullif(sum(ms_played), 0), 0) as time_with_genres_share
from plays
group by listener_id
