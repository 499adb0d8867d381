"""Enrichment: what plays need beyond a track id, for every source (API, data download, demo).

It runs after every ingest, whatever the source, on what the warehouse lacks:

- Track details and artists. Privacy exports carry a track URI and names only, so with
  Spotify app credentials (SPOTIFY_CLIENT_ID/SECRET; no user token needed) each such track
  is looked up by a single-track call (development-mode apps lost the batch endpoints in
  Feb 2026), which gives its album, cover and artist ids.
- Artist genres, by single-artist calls: once per artist, again after
  SPOTIFY_BRAIN_ARTIST_REFRESH_DAYS. `raw.artists.genres` is null until fetched, `[]` when
  Spotify knows no genre.
- Audio features from the provider SPOTIFY_BRAIN_AUDIO_FEATURES names: `reccobeats` (free,
  takes Spotify ids), `file` (CSV or Parquet of track_id + feature columns), `spotify` (apps
  that still have the endpoint) or `none`. Each track asked about is kept in
  `raw.feature_lookups`, so one no provider knows is asked again only after 30 days.

Spotify calls are budgeted: at most SPOTIFY_BRAIN_API_CALLS_PER_RUN per run and
SPOTIFY_BRAIN_API_CALLS_PER_DAY over the last 24 hours (development-mode apps are throttled to
roughly a thousand a day), most-played tracks first. What is not done is simply still missing,
so the next run continues there. A long Retry-After, a 429 saying QUOTA_EXCEEDED or a spent
budget ends the step cleanly; the job goes on. Every run is a row in `raw.enrichment_runs`.

`run.py` is the step; each provider has its module (`spotify_catalog.py`, `reccobeats.py`,
`audio_features.py` for the provider choice and the features file), `lookups.py` what they share.
"""
