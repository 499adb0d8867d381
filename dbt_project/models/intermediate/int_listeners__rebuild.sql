-- Listeners whose mood- and genre-dependent marts (genre profiles, drift, next-track scoring)
-- this build recomputes whole, and why: new plays (int_plays__rebuild_from), a new mood
-- clustering since their last build, audio features or genres that landed since then for a
-- track they played, or no build yet. Every other listener's rows stay as they are, so a
-- refresh in a household costs what the listeners with news cost, not the whole household.
-- Their last build is read from int_listeners__built without ref() (it is written after
-- this model). A table: it must keep the answer it gave before those marts changed.
{{ config(materialized='table') }}
-- depends_on: {{ ref('int_plays__rebuild_from') }}
-- depends_on: {{ ref('fct_plays') }}
-- depends_on: {{ ref('stg_spotify__tracks') }}
-- depends_on: {{ ref('stg_spotify__audio_features') }}
-- depends_on: {{ ref('stg_spotify__artists') }}
-- depends_on: {{ ref('stg_listenbrainz__recordings') }}
-- depends_on: {{ ref('stg_listenbrainz__artist_genres') }}
{%- set built = adapter.get_relation(database=this.database, schema=this.schema,
                                     identifier='int_listeners__built') %}
with current_moods as (
    select coalesce(any_value(mood_run_id), 'none') as mood_run_id from {{ ref('stg_ml__mood_clusters') }}
),

{% if built is none %}
changed as (
    select listener_id, 'first build' as reason from {{ ref('stg_spotify__listeners') }}
)
{% else %}
built as (
    select * from {{ built }}
),

-- tracks whose features or genres (Spotify's for the primary artist, MusicBrainz's for the
-- recording or its artist) landed after the oldest of those builds
enriched as (
    select tracks.track_id,
           greatest(features.loaded_at, artists.loaded_at, recordings.loaded_at, artist_genres.loaded_at) as loaded_at
    from {{ ref('stg_spotify__tracks') }} as tracks
    left join {{ ref('stg_spotify__audio_features') }} as features using (track_id)
    left join {{ ref('stg_spotify__artists') }} as artists on artists.artist_id = tracks.primary_artist_id
    left join {{ ref('stg_listenbrainz__recordings') }} as recordings using (track_id)
    left join {{ ref('stg_listenbrainz__artist_genres') }} as artist_genres
        on artist_genres.artist_mbid = recordings.primary_artist_mbid
    where greatest(features.loaded_at, artists.loaded_at, recordings.loaded_at, artist_genres.loaded_at)
          > (select min(built_at) from built)
),

changed as (
    select listener_id, 'new plays' as reason from {{ ref('int_plays__rebuild_from') }}
    union all
    select listeners.listener_id, case when built.listener_id is null then 'first build' else 'new moods' end
    from {{ ref('stg_spotify__listeners') }} as listeners
    cross join current_moods
    left join built using (listener_id)
    where built.mood_run_id is distinct from current_moods.mood_run_id
    union all
    select distinct plays.listener_id, 'new audio features or genres'
    from {{ ref('fct_plays') }} as plays
    inner join enriched using (track_id)
    inner join built using (listener_id)
    where enriched.loaded_at > built.built_at
)
{% endif %}

select listener_id, string_agg(distinct reason, ', ' order by reason) as reasons
from changed
group by listener_id
