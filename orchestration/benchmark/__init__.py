"""`spotify-brain bench`: the wall time of the real commands, start to exit, next to the floor of
the tools they start, measured in one run and written to one JSON document.

- floor: `python -c "import the Dagster definitions"`, `dbt --version`, and a `dbt build` that
  selects nothing (dbt's start-up and parse), each best of --repeats;
- per history size (demo listeners' privacy exports of --sizes plays, audio features from a file,
  no Spotify account): `spotify-brain import`, the first `run --job full_retrain` (cold) and the
  next ones (the daily retrain), and `run --job refresh` after 50 new plays each time; wall
  seconds, peak MB of each command, and the size of the warehouse folder and of target/; and
  each model's holdout log loss next to its best baseline's and the oracle's (the generator's
  own probabilities), with the share of that gap the model closes;
- with --disk-refreshes N: N refreshes of a few plays each in one folder, with the sizes after
  the first day (48 refreshes) and at the end: what a month of the schedule leaves on disk;
- with --household N: N demo listeners of --household-days each, trained in one run, and a
  refresh where one of them has 50 new plays next to the same refresh for one listener alone.

Timings on a shared machine only ever get slower, so each figure is the best of its repeats and
every repeat is kept in the JSON. Each command runs in a fresh folder with its own Dagster home.

`command.py` is the command; `folders.py` the fresh folders and the timing of one command (through
`launcher.py`); `floor.py`, `sizes.py`, `disk.py` (with `disk_simulation.py`) and `household.py`
each measure one part.
"""

