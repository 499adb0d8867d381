"""What a month of the 30-minute schedule leaves on disk: refreshes in one folder, the sizes after
every simulated day."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from orchestration.benchmark.folders import BIN, Folder

DAY_OF_REFRESHES = 48
DISK_LINE = "disk-day "
# the one setting the measured folder takes from the caller's environment (the others are the
# defaults a new user has): a shorter retention shows the home level off in fewer simulated days
RETENTION = "SPOTIFY_BRAIN_KEEP_REFRESH_RUNS_DAYS"


def measure_disk(root: Path, refreshes: int, plays: int = 2_000) -> dict:
    """`refreshes` refreshes in one folder, two new plays each, through the same code the command
    runs (in one process, so a month takes hours, not days); sizes after each day of 48."""
    from ingest.demo.files import write_data_download
    from ingest.demo.rules import DEFAULT_END

    folder = Folder(root)
    if RETENTION in os.environ:
        folder.env[RETENTION] = os.environ[RETENTION]
    write_data_download(root / "my_spotify_data", plays)
    folder.command("import", "my_spotify_data")
    folder.command("run", "--job", "full_retrain")
    # One JSON line per simulated day, relayed as it comes: a month takes hours to simulate.
    days, log = [], root / "disk_simulation.log"
    with log.open("w") as errors, subprocess.Popen([str(BIN / "python"), "-m", "orchestration.benchmark.disk_simulation",
                                                    str(refreshes), str(DAY_OF_REFRESHES), DEFAULT_END.isoformat()],
                                                   cwd=root, env=folder.env,
                                                   stdout=subprocess.PIPE, stderr=errors, text=True) as process:
        for line in process.stdout:  # the refreshes print their own progress too
            if line.startswith(DISK_LINE):
                days.append(json.loads(line.removeprefix(DISK_LINE)))
                print(f"disk: {days[-1]}", flush=True)
    if process.returncode or not days:
        raise RuntimeError(f"the disk simulation failed:\n{log.read_text()[-3000:]}")
    from warehouse.settings import Settings

    kept = int(folder.env.get(RETENTION, Settings.model_fields["keep_refresh_runs_days"].default))
    return {"refreshes": days[-1]["refreshes"], "keep_refresh_runs_days": kept,
            "after_first_day": _sizes(days[0]), "at_end": _sizes(days[-1]),
            "refresh_s_median": days[-1]["refresh_s_median"], "days": days}


def _sizes(day: dict) -> dict:
    return {key: day[key] for key in ("warehouse_mb", "target_mb", "dagster_home_mb")}
