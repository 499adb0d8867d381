"""The benchmark: time each stage on demo listeners of growing size and print the figures.

Each size runs in its own process (so peak memory is its own) in a temporary folder:
land the demo plays, dbt build, cluster moods and train both models, predict, export.
Run it with `make bench` or `spotify-brain bench [--days N] [--scale 1 10]`.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

STAGES = ("generate_s", "load_s", "dbt_build_s", "training_s", "predict_s", "export_s")


@contextmanager
def _timed(figures: dict, name: str):
    started = time.perf_counter()
    yield
    figures[name] = round(figures.get(name, 0.0) + time.perf_counter() - started, 3)


def _dbt(warehouse: Path, *args: str) -> None:
    from orchestration.project import PROJECT_ROOT, dbt_executable

    env = {**os.environ, "SPOTIFY_BRAIN_WAREHOUSE": str(warehouse), "DO_NOT_TRACK": "1"}
    result = subprocess.run([dbt_executable(), "build", "--quiet", *args], cwd=PROJECT_ROOT, env=env,
                            capture_output=True, text=True)
    if result.returncode:
        raise RuntimeError(f"dbt build {' '.join(args)} failed:\n{result.stdout[-3000:]}")


def measure_one(days: int, folder: Path, rhythm: bool = True) -> dict:
    """All stages for one demo listener with `days` of history; returns the figures.
    The warehouse stays in `folder` (listener "bench"), so tests can inspect what was built."""
    import duckdb

    from export.dashboard import export_dashboard
    from ingest.demo import generate_demo_batches
    from ml.moods import assign_track_moods, train_mood_run
    from ml.next_mood import predict_next_mood, train_next_mood
    from ml.session_start import predict_session_starts, train_session_start
    from warehouse.loaders import load_batch
    from warehouse.schema import ensure_schema

    warehouse, data_dir = folder / "bench.duckdb", folder / "artifacts"
    figures: dict = {"days": days}
    with _timed(figures, "generate_s"):
        batches = generate_demo_batches("bench", "Europe/Berlin", "Bench", days=days, rhythm=rhythm)
    figures["plays"] = sum(len(b.plays) for b in batches)
    con = duckdb.connect(str(warehouse))
    ensure_schema(con)
    with _timed(figures, "load_s"):
        for batch in batches:
            load_batch(con, batch)
    con.close()
    figures["plays_landed_per_s"] = round(figures["plays"] / figures["load_s"])
    with _timed(figures, "dbt_build_s"):
        _dbt(warehouse, "--exclude", "source:ml+")
    con = duckdb.connect(str(warehouse))
    with _timed(figures, "training_s"):
        train_mood_run(con, data_dir, None)
        assign_track_moods(con)
    con.close()
    with _timed(figures, "dbt_build_s"):
        _dbt(warehouse, "--select", "source:ml+")
    con = duckdb.connect(str(warehouse))
    with _timed(figures, "training_s"):
        train_next_mood(con, "bench", data_dir)
        train_session_start(con, "bench", data_dir)
    with _timed(figures, "predict_s"):
        predict_next_mood(con, "bench")
        predict_session_starts(con, "bench")
    with _timed(figures, "export_s"):
        export_dashboard(con, "bench", folder / "dashboard_data.json")
    con.close()
    figures["peak_memory_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    figures["dbt_peak_memory_mb"] = round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)
    return figures


def run_benchmark(days: int, scales: list[int], json_path: str) -> dict:
    results = []
    for scale in scales:
        with tempfile.TemporaryDirectory(prefix="spotify-brain-bench-") as folder:
            out = subprocess.run([sys.executable, "-m", "orchestration.benchmark", str(days * scale), folder],
                                 capture_output=True, text=True)
            if out.returncode:
                raise RuntimeError(f"benchmark at {scale}x failed:\n{out.stderr[-3000:]}")
            results.append({"scale": scale, **json.loads(out.stdout.strip().splitlines()[-1])})
    report = {"machine": {"cores": os.cpu_count(), "python": platform.python_version(), "system": platform.system()},
              "runs": results}
    Path(json_path).write_text(json.dumps(report, indent=2) + "\n")
    columns = ("scale", "days", "plays", "plays_landed_per_s", *STAGES[2:], "peak_memory_mb", "dbt_peak_memory_mb")
    print(f"spotify-brain benchmark, {os.cpu_count()} cores (figures also in {json_path})")
    print(" | ".join(columns))
    for run in results:
        print(" | ".join(str(run[c]) for c in columns))
    return report


if __name__ == "__main__":
    # one size in a fresh process: python -m orchestration.benchmark DAYS FOLDER
    print(json.dumps(measure_one(int(sys.argv[1]), Path(sys.argv[2]))))
