"""Spotify's data download (the privacy export: "Download your data"), imported into raw.plays.

Takes the zip Spotify sends, the folder inside it, or single files. Two formats:

- Extended streaming history, `Streaming_History_Audio_*.json` and the older
  `endsong_*.json`: one record per stream, `ts` = when it ended (UTC, seconds),
  track id in `spotify_track_uri`. Podcast episodes, audiobook chapters and records that
  name nothing played (no track, episode or audiobook) are set aside;
  `Streaming_History_Video_*.json` files are set aside whole.
- Account data, `StreamingHistory_music_*.json` / `StreamingHistory*.json`: `endTime`
  to the minute, names but no track id. Such plays land with a name-based track id
  (`name:<hash of artist and track>`); dbt resolves it to a real track with the same
  name and artist once one is known (`int_plays__track_resolved`).
  `StreamingHistory_podcast_*.json` and `StreamingHistory_audiobook_*.json` are set aside whole.

Files are checked one by one: a file that cannot be read (invalid or truncated JSON, not
UTF-8, not a list of records, empty) loads nothing and is reported by name; bad records of
a readable file are rejected one by one, naming file and record. Readable files land
together, a batch (one transaction) per CHUNK_RECORDS records, so a crash mid-import
leaves whole batches behind and the next import adds the rest.

`formats.py` says which files are Spotify's and how their records are checked; `files.py` finds
the files (zips unpacked with limits), `records.py` checks their records in DuckDB,
`importer.py` lands them. The last three serve every export the import takes: Last.fm's and
ListenBrainz's formats live in their own rooms (`ingest/lastfm_export/`,
`ingest/listenbrainz_export/`) and land through the same importer, listed in `ingest/formats.py`.
IP addresses, user agents, user names and countries are never read, so never stored.
"""
