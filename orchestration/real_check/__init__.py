"""`spotify-brain check-real DIR`: every Spotify data download (privacy export) under DIR through `import`, `refresh` and
`full_retrain`, each in a fresh folder, as a user runs them; then what must hold, one row per
listener:

- every command succeeds and the export validates against the contract;
- every record is accounted for: read = inserted + duplicates + folded + rejected + set aside, the
  records read are the records in the files, and the warehouse holds what the report says;
- minutes per year and the top five artists per year equal a plain-Python count from the files
  (count.py, the README's dedup rules written again);
- seconds and peak memory of each command, and both models against their best baseline.

Each entry of DIR (a zip, a folder or a JSON file) is one listener. The table names no one: a
listener is its position in DIR, with sizes and years. Nothing leaves the machine unless
--online: audio features come from a file (--audio-features-file) or not at all.

`command.py` runs the commands and checks the warehouse; `count.py` counts the files.
"""
