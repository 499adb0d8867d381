select track_id, mood_cluster_id, mood_run_id
from {{ source('ml', 'track_moods') }}
