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
from datetime import date, timedelta
from contextlib import contextmanager
from pathlib import Path

STAGES = ("generate_and_load_s", "dbt_build_s", "training_s", "predict_s", "export_s", "refresh_s")


@contextmanager
def _timed(figures: dict, name: str):
    started = time.perf_counter()
    yield
    figures[name] = round(figures.get(name, 0.0) + time.perf_counter() - started, 3)


def _connect(warehouse: Path):
    """The warehouse with the memory limit the pipeline uses (SPOTIFY_BRAIN_DUCKDB_MEMORY_LIMIT)."""
    import duckdb

    return duckdb.connect(str(warehouse), config={
        "memory_limit": os.environ.get("SPOTIFY_BRAIN_DUCKDB_MEMORY_LIMIT", "4GB")})


def _dbt(warehouse: Path, *args: str) -> None:
    from orchestration.project import PROJECT_ROOT, dbt_executable

    env = {**os.environ, "SPOTIFY_BRAIN_WAREHOUSE": str(warehouse), "DO_NOT_TRACK": "1"}
    result = subprocess.run([dbt_executable(), "build", "--quiet", *args], cwd=PROJECT_ROOT, env=env,
                            capture_output=True, text=True)
    if result.returncode:
        raise RuntimeError(f"dbt build {' '.join(args)} failed:\n{result.stdout[-3000:]}")


def _land_history(con, days: int, listeners: int, rhythm: bool) -> int:
    """Demo listeners one at a time (memory stays one listener's worth); returns the plays landed."""
    from ingest.demo import iter_demo_batches
    from warehouse.loaders import load_batch

    batches = iter_demo_batches("bench", "Europe/Berlin", "Bench", days=days, listeners=listeners, rhythm=rhythm)
    return sum(load_batch(con, batch).plays_inserted for batch in batches)


REFRESHES = 3  # timed one after the other, each with new plays; the best counts


def _refresh(con_path: Path, folder: Path, plays: int, number: int = 0) -> None:
    """What the refresh job does after `plays` new plays (the `number`-th set of plays after the
    history): incremental dbt without the training tables, moods for new tracks, predictions
    from the stored models, export."""
    from export.dashboard import export_dashboard
    from ingest.demo import DEFAULT_END, build_catalog, generate_plays
    from ml.moods import assign_track_moods
    from ml.next_mood import predict_next_mood
    from ml.session_start import predict_session_starts
    from orchestration.project import TRAINING_TABLES
    from warehouse.loaders import RawBatch, load_batch
    from zoneinfo import ZoneInfo

    new = generate_plays(build_catalog(42), "bench", ZoneInfo("Europe/Berlin"), 7, seed=7,
                         end=DEFAULT_END + timedelta(days=7))[plays * number: plays * (number + 1)]
    con = _connect(con_path)
    load_batch(con, RawBatch(source="demo", listener_id="bench", plays=new))
    con.close()
    _dbt(con_path, "--exclude", "source:ml+", *TRAINING_TABLES)
    con = _connect(con_path)
    assign_track_moods(con)
    con.close()
    _dbt(con_path, "--select", "source:ml+", "--exclude", *TRAINING_TABLES)
    con = _connect(con_path)
    predict_next_mood(con, "bench")
    predict_session_starts(con, "bench")
    export_dashboard(con, "bench", folder / "dashboard_data.json")
    con.close()


def measure_one(days: int, folder: Path, rhythm: bool = True, listeners: int = 1, refresh_plays: int = 0) -> dict:
    """All stages for demo listeners with `days` of history each; returns the figures. The
    warehouse stays in `folder` (main listener "bench"), so tests can inspect what was built.
    With `refresh_plays`, then times REFRESHES refreshes that each bring that many new plays
    (the best counts: this machine's noise only ever adds time; all are listed)."""
    from export.dashboard import export_dashboard
    from ml.moods import assign_track_moods, train_mood_run
    from ml.next_mood import predict_next_mood, train_next_mood
    from ml.session_start import predict_session_starts, train_session_start
    from warehouse.schema import ensure_schema

    warehouse, data_dir = folder / "bench.duckdb", folder / "artifacts"
    figures: dict = {"days": days, "listeners": listeners}
    con = _connect(warehouse)
    ensure_schema(con)
    with _timed(figures, "generate_and_load_s"):
        figures["plays"] = _land_history(con, days, listeners, rhythm)
    con.close()
    with _timed(figures, "dbt_build_s"):
        _dbt(warehouse, "--exclude", "source:ml+")
    con = _connect(warehouse)
    with _timed(figures, "training_s"):
        train_mood_run(con, data_dir, None)
        assign_track_moods(con)
    con.close()
    with _timed(figures, "dbt_build_s"):
        _dbt(warehouse, "--select", "source:ml+")
    con = _connect(warehouse)
    with _timed(figures, "training_s"):
        train_next_mood(con, "bench", data_dir)
        train_session_start(con, "bench", data_dir)
    with _timed(figures, "predict_s"):
        predict_next_mood(con, "bench")
        predict_session_starts(con, "bench")
    with _timed(figures, "export_s"):
        export_dashboard(con, "bench", folder / "dashboard_data.json")
    con.close()
    if refresh_plays:
        figures["refresh_new_plays"] = refresh_plays
        runs = []
        for number in range(REFRESHES):
            started = time.perf_counter()
            _refresh(warehouse, folder, refresh_plays, number)
            runs.append(round(time.perf_counter() - started, 3))
        figures["refresh_s"], figures["refresh_runs_s"] = min(runs), runs
    # the larger of this process and its dbt subprocesses (each at most one of them runs at a time)
    figures["peak_memory_mb"] = round(max(resource.getrusage(who).ru_maxrss for who in
                                          (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)) / 1024)
    figures["warehouse_mb"] = round(warehouse.stat().st_size / 2**20)
    return figures


def _bare_read_json(files: list[str], database: str) -> tuple[int, float]:
    """DuckDB's own read_json of the files into a table of `database`: the reference point."""
    import duckdb

    con = duckdb.connect(database)
    con.execute("set enable_progress_bar = false")
    started = time.perf_counter()
    con.execute(f"create table t as select * from read_json({files}, format='array')")
    records = con.execute("select count(*) from t").fetchone()[0]
    seconds = time.perf_counter() - started
    con.close()
    return records, round(seconds, 2)


def measure_import(folder: Path, repeats: int = 3) -> dict:
    """Import the extended-history files in `folder` into a new warehouse; next to it, DuckDB's bare
    read_json of the same files into a table in memory, and into a database file as the import
    does. Each runs `repeats` times and the best time counts (noise only ever adds time)."""
    import duckdb

    from ingest.privacy_export import import_export
    from warehouse.loaders import ensure_listener
    from warehouse.schema import ensure_schema

    files = sorted(str(p) for p in folder.glob("*.json"))
    times: dict[str, list[float]] = {"import": [], "read_json_in_memory": [], "read_json_to_file": []}
    for attempt in range(repeats):
        records, seconds = _bare_read_json(files, ":memory:")
        times["read_json_in_memory"].append(seconds)
        reference = folder / f"read_json-{attempt}.duckdb"
        times["read_json_to_file"].append(_bare_read_json(files, str(reference))[1])
        reference.unlink()
        warehouse = folder / f"import-{attempt}.duckdb"
        con = duckdb.connect(str(warehouse))
        ensure_schema(con)
        ensure_listener(con, "bench", "Bench", "UTC", "bench")
        started = time.perf_counter()
        report = import_export(con, folder, "bench")
        times["import"].append(round(time.perf_counter() - started, 2))
        con.close()
        warehouse.unlink()
    best = {name: min(runs) for name, runs in times.items()}
    return {"records": records, "plays_inserted": report.plays_inserted, "import_s": best["import"],
            "import_records_per_s": round(records / best["import"]),
            "read_json_in_memory_s": best["read_json_in_memory"],
            "read_json_to_file_s": best["read_json_to_file"],
            "slower_than_read_json_to_file": round(best["import"] / best["read_json_to_file"], 2),
            "slower_than_read_json_in_memory": round(best["import"] / best["read_json_in_memory"], 2),
            "runs_s": times, "peak_memory_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}


def measure_import_into_one_warehouse(folder: Path, listeners: int) -> dict:
    """The same export imported once per listener into one warehouse: an import into a warehouse
    that already holds millions of plays, and the memory a ten-million-play import needs."""
    import duckdb

    from ingest.privacy_export import import_export
    from warehouse.loaders import ensure_listener
    from warehouse.schema import ensure_schema

    warehouse = folder / "many.duckdb"
    con = duckdb.connect(str(warehouse))
    ensure_schema(con)
    seconds, inserted = [], 0
    for number in range(listeners):
        ensure_listener(con, f"bench-{number}", "Bench", "UTC", "bench")
        started = time.perf_counter()
        inserted += import_export(con, folder, f"bench-{number}").plays_inserted
        seconds.append(round(time.perf_counter() - started, 2))
    con.close()
    warehouse.unlink()
    return {"listeners": listeners, "plays_inserted": inserted, "import_s": round(sum(seconds), 1),
            "first_import_s": seconds[0], "last_import_s": seconds[-1],
            "peak_memory_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}


def _in_subprocess(*args: str) -> dict:
    out = subprocess.run([sys.executable, "-m", "orchestration.benchmark", *args], capture_output=True, text=True)
    if out.returncode:
        raise RuntimeError(f"benchmark step {' '.join(args)} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def add_arguments(bench) -> None:
    bench.add_argument("--days", type=int, default=365, help="days of the 1x demo history")
    bench.add_argument("--scale", type=int, nargs="+", default=[1, 10], help="history sizes, in multiples of --days")
    bench.add_argument("--import-records", type=int, default=1_000_000,
                       help="extended-history records for the import benchmark (0: skip it)")
    bench.add_argument("--import-listeners", type=int, default=1,
                       help="also import the generated export once per listener into one warehouse")
    bench.add_argument("--listeners", type=int, default=1, help="demo listeners, each with the full history")
    bench.add_argument("--refresh-plays", type=int, default=50, help="new plays for the timed refresh (0: skip it)")
    bench.add_argument("--json", default="bench_results.json", help="where to write the figures as JSON")


def run_benchmark(args) -> dict:
    return _run_benchmark(args.days, args.scale, args.json, args.import_records, args.listeners, args.refresh_plays,
                          args.import_listeners)


def _run_benchmark(days: int, scales: list[int], json_path: str, import_records: int, listeners: int = 1,
                   refresh_plays: int = 50, import_listeners: int = 1) -> dict:
    """Every stage at each history size (days x scale, per listener), each in its own process;
    then the privacy-export import (and, with import_listeners > 1, that export imported for
    that many listeners into one warehouse). Writes one JSON document and prints a table."""
    results = []
    for scale in scales:
        with tempfile.TemporaryDirectory(prefix="spotify-brain-bench-") as folder:
            results.append({"scale": scale, **_in_subprocess(
                "stages", str(days * scale), folder, str(listeners), str(refresh_plays))})
    imported = None
    if import_records:
        with tempfile.TemporaryDirectory(prefix="spotify-brain-bench-") as folder:
            _in_subprocess("write-export", str(import_records), folder)
            imported = _in_subprocess("import", folder)
            if import_listeners > 1:
                imported["into_one_warehouse"] = _in_subprocess("import-many", folder, str(import_listeners))
    report = {"machine": {"cores": os.cpu_count(), "python": platform.python_version(), "system": platform.system()},
              "runs": results, "privacy_export_import": imported}
    by_scale = {run["scale"]: run for run in results}
    if 1 in by_scale and 10 in by_scale and refresh_plays:
        report["refresh_10x_over_1x"] = round(by_scale[10]["refresh_s"] / by_scale[1]["refresh_s"], 2)
    Path(json_path).write_text(json.dumps(report, indent=2) + "\n")
    columns = ("scale", "listeners", "days", "plays", *STAGES, "peak_memory_mb")
    print(f"spotify-brain benchmark, {os.cpu_count()} cores (figures also in {json_path})")
    print(" | ".join(columns))
    for run in results:
        print(" | ".join(str(run.get(c, "")) for c in columns))
    if "refresh_10x_over_1x" in report:
        print(f"refresh with {refresh_plays} new plays, 10x history over 1x: {report['refresh_10x_over_1x']}")
    if imported:
        print("privacy-export import: " + ", ".join(f"{k} {v}" for k, v in imported.items()))
    return report


def _main(mode: str, *args: str) -> dict:
    """One step in a fresh process, so its peak memory is its own."""
    if mode == "stages":
        return measure_one(int(args[0]), Path(args[1]), listeners=int(args[2]), refresh_plays=int(args[3]))
    if mode == "write-export":
        from ingest.demo import write_privacy_export

        return {"files": len(write_privacy_export(Path(args[1]), int(args[0])))}
    if mode == "import-many":
        return measure_import_into_one_warehouse(Path(args[0]), int(args[1]))
    return measure_import(Path(args[0]))


if __name__ == "__main__":
    print(json.dumps(_main(*sys.argv[1:])))
