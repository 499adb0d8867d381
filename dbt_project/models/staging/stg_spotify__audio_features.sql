-- The six mood features on [0, 1]; tempo_norm = min(tempo / 250, 1) as in the dashboard contract.
select
    track_id,
    greatest(least(valence, 1), 0) as valence,
    greatest(least(energy, 1), 0) as energy,
    greatest(least(danceability, 1), 0) as danceability,
    greatest(least(acousticness, 1), 0) as acousticness,
    greatest(least(instrumentalness, 1), 0) as instrumentalness,
    greatest(least(tempo / 250.0, 1), 0) as tempo_norm,
    tempo,
    loudness,
    provider,
    loaded_at
from {{ source('raw', 'audio_features') }}
where valence is not null and energy is not null and danceability is not null
  and acousticness is not null and instrumentalness is not null and tempo is not null
