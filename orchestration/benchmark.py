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
from datetime import date
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


def measure_import(folder: Path) -> dict:
    """Import the extended-history files in `folder`; next to it, DuckDB's bare read_json of them."""
    import duckdb

    from ingest.privacy_export import import_export
    from warehouse.loaders import ensure_listener
    from warehouse.schema import ensure_schema

    files = sorted(str(p) for p in folder.glob("*.json"))
    con = duckdb.connect()
    started = time.perf_counter()
    records = con.execute(f"create table t as select * from read_json({files}, format='array'); "
                          "select count(*) from t").fetchone()[0]
    read_json_s = time.perf_counter() - started
    con.close()
    con = duckdb.connect(str(folder / "import.duckdb"))
    ensure_schema(con)
    ensure_listener(con, "bench", "Bench", "UTC", "bench")
    started = time.perf_counter()
    report = import_export(con, folder, "bench")
    import_s = time.perf_counter() - started
    con.close()
    return {"records": records, "plays_inserted": report.plays_inserted, "import_s": round(import_s, 2),
            "import_records_per_s": round(records / import_s), "read_json_s": round(read_json_s, 2),
            "read_json_records_per_s": round(records / read_json_s), "slower_than_read_json": round(import_s / read_json_s, 1),
            "peak_memory_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}


def _in_subprocess(*args: str) -> dict:
    out = subprocess.run([sys.executable, "-m", "orchestration.benchmark", *args], capture_output=True, text=True)
    if out.returncode:
        raise RuntimeError(f"benchmark step {' '.join(args)} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_benchmark(days: int, scales: list[int], json_path: str, import_records: int) -> dict:
    results = []
    for scale in scales:
        with tempfile.TemporaryDirectory(prefix="spotify-brain-bench-") as folder:
            results.append({"scale": scale, **_in_subprocess("stages", str(days * scale), folder)})
    imported = None
    if import_records:
        with tempfile.TemporaryDirectory(prefix="spotify-brain-bench-") as folder:
            _in_subprocess("write-export", str(import_records), folder)
            imported = _in_subprocess("import", folder)
    report = {"machine": {"cores": os.cpu_count(), "python": platform.python_version(), "system": platform.system()},
              "runs": results, "privacy_export_import": imported}
    Path(json_path).write_text(json.dumps(report, indent=2) + "\n")
    columns = ("scale", "days", "plays", "plays_landed_per_s", *STAGES[2:], "peak_memory_mb", "dbt_peak_memory_mb")
    print(f"spotify-brain benchmark, {os.cpu_count()} cores (figures also in {json_path})")
    print(" | ".join(columns))
    for run in results:
        print(" | ".join(str(run[c]) for c in columns))
    if imported:
        print("privacy-export import: " + ", ".join(f"{k} {v}" for k, v in imported.items()))
    return report


def write_extended_history(folder: Path, records: int, per_file: int = 100_000) -> list[Path]:
    """Files shaped like Spotify's extended streaming history, from demo plays (no real data)."""
    from datetime import timedelta

    from ingest.demo import build_catalog, generate_plays
    from zoneinfo import ZoneInfo

    catalog = build_catalog(42)
    names = {t["track_id"]: t for t in catalog.tracks}
    plays, listeners = [], 0
    while len(plays) < records:  # more demo years until there are enough plays
        plays += generate_plays(catalog, "bench", ZoneInfo("Europe/Berlin"), 365, seed=100 + listeners,
                                end=date(2026, 10, 31) - timedelta(days=365 * listeners))
        listeners += 1
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for number, start in enumerate(range(0, records, per_file)):
        rows = []
        for play in plays[start:start + per_file]:
            track = names[play["track_id"]]
            rows.append({
                "ts": play["played_at"].strftime("%Y-%m-%dT%H:%M:%SZ"), "platform": "android",
                "ms_played": play["ms_played"], "conn_country": "DE", "ip_addr": "192.0.2.1",
                "master_metadata_track_name": track["track_name"],
                "master_metadata_album_artist_name": track["artist_names"][0],
                "master_metadata_album_album_name": track["album_name"],
                "spotify_track_uri": f"spotify:track:{play['track_id']}",
                "episode_name": None, "episode_show_name": None, "spotify_episode_uri": None,
                "reason_start": play["reason_start"], "reason_end": play["reason_end"], "shuffle": play["shuffle"],
                "skipped": play["skipped"], "offline": False, "offline_timestamp": None, "incognito_mode": False,
            })
        path = folder / f"Streaming_History_Audio_{number:03d}.json"
        path.write_text(json.dumps(rows))
        paths.append(path)
    return paths


def _main(mode: str, *args: str) -> dict:
    """One step in a fresh process, so its peak memory is its own."""
    if mode == "stages":
        return measure_one(int(args[0]), Path(args[1]))
    if mode == "write-export":
        return {"files": len(write_extended_history(Path(args[1]), int(args[0])))}
    return measure_import(Path(args[0]))


if __name__ == "__main__":
    print(json.dumps(_main(*sys.argv[1:])))
