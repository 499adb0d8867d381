"""ListenBrainz's export (see formats.py), imported into raw.plays through the same import,
checks and report as Spotify's download (source `listenbrainz`)."""
