-- Clusters of the latest clustering run only: the ids track_moods refers to.
select cluster_id as mood_cluster_id, label as mood_label, size, valence, energy,
       danceability, acousticness, instrumentalness, tempo_norm, run_id as mood_run_id
from {{ source('ml', 'mood_clusters') }}
where run_id = (select max(run_id) from {{ source('ml', 'mood_clusters') }})
