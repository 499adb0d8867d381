"""A fresh working folder per measured command, and the timing of one command in it."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from orchestration.project import target_dir
from orchestration.runner import prepare_home

BIN = Path(sys.executable).parent


class Folder:
    """A fresh working folder with the environment a user's .env would give (relative paths)."""

    def __init__(self, root: Path, listener: str = "bench"):
        self.root, self.listener = root, listener
        prepare_home(root / "dagster_home")
        features = root / "features.csv"
        from ingest.demo.files import write_features_file

        write_features_file(features)
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("SPOTIFY_", "WEBSITE_", "DAGSTER_"))}
        self.env |= {"DAGSTER_HOME": str(root / "dagster_home"), "DO_NOT_TRACK": "1",
                     "SPOTIFY_BRAIN_WAREHOUSE": "warehouse/bench.duckdb", "SPOTIFY_BRAIN_DATA_DIR": "warehouse/artifacts",
                     "SPOTIFY_BRAIN_EXPORT_PATH": "export/dashboard_data.json", "SPOTIFY_BRAIN_INGEST_SOURCE": "none",
                     "SPOTIFY_BRAIN_LISTENER_ID": listener, "SPOTIFY_BRAIN_TIMEZONE": "Europe/Berlin",
                     "SPOTIFY_BRAIN_AUDIO_FEATURES": "file", "SPOTIFY_BRAIN_AUDIO_FEATURES_FILE": str(features),
                     "SPOTIFY_BRAIN_KEYLESS_LOOKUPS": "false"}  # measured offline: no web service in the figures

    def command(self, *args: str, check: bool = True) -> dict:
        """One real `spotify-brain` command, start to exit: wall seconds and its peak memory."""
        return timed([str(BIN / "spotify-brain"), *args], self.root, self.env, check)

    def disk_mb(self) -> dict:
        return {"warehouse_mb": mb(self.root / "warehouse"), "target_mb": mb(target_dir()),
                "dagster_home_mb": mb(self.root / "dagster_home")}


def timed(args: list[str], cwd: Path, env: dict, check: bool = True) -> dict:
    """Wall seconds from start to exit and peak resident memory of one command."""
    with tempfile.NamedTemporaryFile(suffix=".json") as report:
        result = subprocess.run([str(BIN / "python"), "-m", "orchestration.benchmark.launcher", report.name, *args],
                                cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        figures = json.loads(Path(report.name).read_text() or "{}")
    failed = bool(result.returncode or figures.get("code"))
    output = result.stdout.decode(errors="replace")
    if check and failed:
        raise RuntimeError(f"{' '.join(args)} failed in {cwd}:\n{output[-3000:]}")
    timing = {"s": round(figures["s"], 2), "peak_mb": round(figures["peak_kb"] / 1024)}
    # unchecked, the caller judges: whether it succeeded, and the end of what it printed
    return timing if check else timing | {"ok": not failed, "tail": output[-1500:]}


def mb(path: Path) -> float:
    files = [path] if path.is_file() else path.rglob("*") if path.exists() else []
    return round(sum(f.stat().st_size for f in files if f.is_file()) / 2**20, 1)


def best(runs: list[dict]) -> dict:
    figures = {"s": min(r["s"] for r in runs), "peak_mb": max(r["peak_mb"] for r in runs),
               "runs_s": [r["s"] for r in runs]}
    if all("over_floor" in r for r in runs):  # each run against its own moment's floor: the median counts
        figures |= {"floor_runs_s": [r["floor_s"] for r in runs], "runs_over_floor": [r["over_floor"] for r in runs],
                    "over_floor": round(statistics.median(r["over_floor"] for r in runs), 2)}
    return figures
