"""Last.fm scrobbles, as the export tools people use write them (see formats.py), imported into
raw.plays through the same import, checks and report as Spotify's download (source `lastfm`)."""
