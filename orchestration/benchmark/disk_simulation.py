"""The refreshes of the disk measurement, run through the refresh's own code in one process (a
month takes hours, not days): two plays land before each refresh, and the folder sizes are printed
as a DISK_LINE after every simulated day.

`python -m orchestration.benchmark.disk_simulation REFRESHES REFRESHES_PER_DAY END_DATE`, in the
measured folder, with its settings in the environment."""

import json
import os
import sys
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

from ingest.demo.catalog import build_catalog
from orchestration.benchmark.disk import DISK_LINE
from orchestration.benchmark.folders import mb
from orchestration.project import target_dir
from orchestration.runner import dagster_instance, run_job
from orchestration.sensors import prune_runs
from warehouse.connection import write_connection
from warehouse.loaders import RawBatch, load_batch
from warehouse.settings import load_settings


def main(refreshes: int, per_day: int, end: str) -> None:
    settings = load_settings()
    tracks = [t["track_id"] for t in build_catalog(42).tracks]
    # a month of plays ending now (plays after the clock are refused), after the imported history
    start = max(datetime.combine(datetime.fromisoformat(end), time(23)),
                datetime.utcnow() - timedelta(minutes=30 * (refreshes + 2)))
    seconds, started = [], []
    for number in range(refreshes):
        at = start + timedelta(minutes=30 * (number + 1))
        with write_connection(settings.warehouse) as con:
            load_batch(con, RawBatch(source="extended_history", listener_id=settings.listener_id, plays=[
                {"listener_id": settings.listener_id, "track_id": tracks[(number * 2 + k) % len(tracks)],
                 "played_at": at + timedelta(minutes=4 * k), "ms_played": 200000} for k in range(2)]))
        began = datetime.now(UTC)
        if not run_job("refresh", settings):
            sys.exit(f"refresh {number} failed")
        seconds.append((datetime.now(UTC) - began).total_seconds())
        started.append(began)
        prune_on_the_simulated_clock(settings, started, per_day)
        if (number + 1) % per_day == 0 or number + 1 == refreshes:
            print(DISK_LINE + json.dumps({"refreshes": number + 1, "warehouse_mb": mb(Path("warehouse")),
                                          "target_mb": mb(target_dir()),
                                          "dagster_home_mb": mb(Path(os.environ["DAGSTER_HOME"])),
                                          "refresh_s_median": sorted(seconds)[len(seconds) // 2]}), flush=True)


def prune_on_the_simulated_clock(settings, started: list[datetime], per_day: int) -> None:
    """The refreshes run back to back, so no run is old by the real clock and the prune at the end
    of each deletes nothing: prune after each as the schedule would have, keeping the refreshes of
    the last SPOTIFY_BRAIN_KEEP_REFRESH_RUNS_DAYS simulated days."""
    kept = per_day * settings.keep_refresh_runs_days
    if len(started) > kept:
        with dagster_instance() as instance:
            prune_runs(instance, settings.keep_runs_days, settings.keep_refresh_runs_days,
                       now=started[-kept] + timedelta(days=settings.keep_refresh_runs_days))


if __name__ == "__main__":
    refreshes, per_day, end = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    sys.argv = ["spotify-brain"]  # the arguments the command's own process would have
    main(refreshes, per_day, end)
