-- Clusters of the latest clustering run only (by training time): the ids track_moods refers to.
with latest as (
    select arg_max(run_id, trained_at) as run_id
    from {{ source('ml', 'model_runs') }}
    where model_name = 'mood_clusters'
)

select clusters.cluster_id as mood_cluster_id, clusters.label as mood_label, clusters.size, clusters.valence,
       clusters.energy, clusters.danceability, clusters.acousticness, clusters.instrumentalness,
       clusters.tempo_norm, clusters.run_id as mood_run_id
from {{ source('ml', 'mood_clusters') }} as clusters
inner join latest using (run_id)
