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
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from datetime import timedelta
from pathlib import Path

from orchestration.project import PROJECT_ROOT, dbt_executable

BIN = Path(sys.executable).parent
DAGSTER_YAML = PROJECT_ROOT / "orchestration" / "dagster_home" / "dagster.yaml"
DAY_OF_REFRESHES = 48


def add_arguments(bench) -> None:
    bench.add_argument("--sizes", type=int, nargs="*", default=[2_000, 20_000, 200_000],
                       help="history sizes, in plays (a demo listener's most recent plays); none: only the "
                            "floor and what the other options ask for")
    bench.add_argument("--repeats", type=int, default=3, help="runs of each timed command; the best counts")
    bench.add_argument("--refresh-plays", type=int, default=50, help="new plays before each timed refresh")
    bench.add_argument("--disk-refreshes", type=int, default=0,
                       help="also run this many refreshes of a few plays each (1440: a month) and report disk use")
    bench.add_argument("--household", type=int, default=0, help="also time a household of this many listeners")
    bench.add_argument("--household-days", type=int, default=3650, help="days of history of each household listener")
    bench.add_argument("--json", default="bench_results.json", help="where to write the figures as JSON")


class Folder:
    """A fresh working folder with the environment a user's .env would give (relative paths)."""

    def __init__(self, root: Path, listener: str = "bench"):
        self.root, self.listener = root, listener
        (root / "dagster_home").mkdir(parents=True)
        shutil.copy(DAGSTER_YAML, root / "dagster_home" / "dagster.yaml")
        features = root / "features.csv"
        from ingest.demo.files import write_features_file

        write_features_file(features)
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("SPOTIFY_", "WEBSITE_", "DAGSTER_"))}
        self.env |= {"DAGSTER_HOME": str(root / "dagster_home"), "DO_NOT_TRACK": "1",
                     "SPOTIFY_BRAIN_WAREHOUSE": "warehouse/bench.duckdb", "SPOTIFY_BRAIN_DATA_DIR": "warehouse/artifacts",
                     "SPOTIFY_BRAIN_EXPORT_PATH": "export/dashboard_data.json", "SPOTIFY_BRAIN_INGEST_SOURCE": "none",
                     "SPOTIFY_BRAIN_LISTENER_ID": listener, "SPOTIFY_BRAIN_TIMEZONE": "Europe/Berlin",
                     "SPOTIFY_BRAIN_AUDIO_FEATURES": "file", "SPOTIFY_BRAIN_AUDIO_FEATURES_FILE": str(features)}

    def command(self, *args: str, check: bool = True) -> dict:
        """One real `spotify-brain` command, start to exit: wall seconds and its peak memory."""
        return timed([str(BIN / "spotify-brain"), *args], self.root, self.env, check)

    def disk_mb(self) -> dict:
        return {"warehouse_mb": _mb(self.root / "warehouse"), "target_mb": _mb(PROJECT_ROOT / "target"),
                "dagster_home_mb": _mb(self.root / "dagster_home")}


# Started by a small launcher, not by this process: on Linux a child's peak memory counts the
# memory of the process it was started from, and this one holds the generated histories.
LAUNCHER = """
import json, os, subprocess, sys, time
started = time.perf_counter()
process = subprocess.Popen(sys.argv[2:])
_, status, usage = os.wait4(process.pid, 0)
with open(sys.argv[1], "w") as out:
    json.dump({"s": time.perf_counter() - started, "peak_kb": usage.ru_maxrss,
               "code": os.waitstatus_to_exitcode(status)}, out)
"""


def timed(args: list[str], cwd: Path, env: dict, check: bool = True) -> dict:
    """Wall seconds from start to exit and peak resident memory of one command."""
    with tempfile.NamedTemporaryFile(suffix=".json") as report:
        result = subprocess.run([str(BIN / "python"), "-c", LAUNCHER, report.name, *args], cwd=cwd, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        figures = json.loads(Path(report.name).read_text() or "{}")
    failed = bool(result.returncode or figures.get("code"))
    output = result.stdout.decode(errors="replace")
    if check and failed:
        raise RuntimeError(f"{' '.join(args)} failed in {cwd}:\n{output[-3000:]}")
    timing = {"s": round(figures["s"], 2), "peak_mb": round(figures["peak_kb"] / 1024)}
    # unchecked, the caller judges: whether it succeeded, and the end of what it printed
    return timing if check else timing | {"ok": not failed, "tail": output[-1500:]}


def _mb(path: Path) -> float:
    files = [path] if path.is_file() else path.rglob("*") if path.exists() else []
    return round(sum(f.stat().st_size for f in files if f.is_file()) / 2**20, 1)


def _best(runs: list[dict]) -> dict:
    return {"s": min(r["s"] for r in runs), "peak_mb": max(r["peak_mb"] for r in runs), "runs_s": [r["s"] for r in runs]}


def measure_floor(root: Path, repeats: int) -> dict:
    """The tools' own start-up: what no command of ours can beat."""
    folder = Folder(root)
    python = [str(BIN / "python"), "-c", "import orchestration.definitions"]
    dbt = dbt_executable()
    project = ["--project-dir", str(PROJECT_ROOT), "--profiles-dir", str(PROJECT_ROOT)]
    (root / "warehouse").mkdir()
    parts = {"definitions_load": python, "dbt_version": [dbt, "--version"],
             "dbt_build_nothing": [dbt, "build", "--select", "tag:selects_nothing", "--quiet", *project]}
    figures = {}
    for name, args in parts.items():  # in the folder, with the commands' own settings: dbt's best case
        figures[name] = _best([timed(args, root, folder.env) for _ in range(repeats)])
    figures["total_s"] = round(sum(part["s"] for part in figures.values()), 2)
    return figures


def measure_size(root: Path, plays: int, repeats: int, refresh_plays: int) -> dict:
    from ingest.demo.catalog import build_catalog
    from ingest.demo.files import write_data_download, write_new_plays
    from ingest.demo.rules import DEFAULT_END
    from ingest.demo.truth import Truth, save_truth, truth_path

    folder = Folder(root)
    truth = Truth()
    write_data_download(root / "my_spotify_data", plays, truth=truth)
    # kept where the command's data dir is, so its runs are measured against the generator too
    save_truth(truth, build_catalog(42), truth_path(root / folder.env["SPOTIFY_BRAIN_DATA_DIR"], folder.listener))
    figures: dict = {"plays": plays}
    figures["import"] = folder.command("import", "my_spotify_data")
    figures["full_retrain_first"] = folder.command("run", "--job", "full_retrain")
    figures["models"] = model_figures(root / folder.env["SPOTIFY_BRAIN_WAREHOUSE"], folder.listener)
    figures["full_retrain"] = _best([folder.command("run", "--job", "full_retrain")
                                     for _ in range(max(1, repeats - 1))])
    refreshes = []
    for number in range(repeats):
        new = root / f"new_{number}"
        write_new_plays(new, refresh_plays, DEFAULT_END + timedelta(days=3 * number))
        folder.command("import", str(new))
        refreshes.append(folder.command("run", "--job", "refresh"))
    figures["refresh"] = _best(refreshes)
    figures |= folder.disk_mb()
    return figures


def model_figures(warehouse: Path, listener: str) -> dict:
    """Each model's holdout log loss next to its best baseline's and the oracle's (the demo
    generator's own probabilities), and the share of that gap the model closes."""
    import duckdb

    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        rows = con.execute("""select model_name, metrics, baselines, oracle, params, served from ml.model_runs
                              where listener_id = ? qualify row_number() over (
                                  partition by model_name order by trained_at desc) = 1""", [listener]).fetchall()
    finally:
        con.close()
    figures = {}
    for model, metrics, baselines, oracle, params, served in rows:
        losses = [b["log_loss"] for b in json.loads(baselines).values() if b.get("log_loss") is not None]
        oracle = json.loads(oracle or "null") or {}
        figures[model] = {"log_loss": json.loads(metrics).get("log_loss"), "best_baseline": min(losses, default=None),
                          "oracle": oracle.get("log_loss"), "gap_closed": oracle.get("gap_closed"),
                          "chosen": json.loads(params).get("chosen"), "served": served}
    return figures


def measure_disk(root: Path, refreshes: int, plays: int = 2_000) -> dict:
    """`refreshes` refreshes in one folder, two new plays each, through the same code the command
    runs (in one process, so a month takes hours, not days); sizes after each day of 48."""
    from ingest.demo.files import write_data_download
    from ingest.demo.rules import DEFAULT_END

    folder = Folder(root)
    write_data_download(root / "my_spotify_data", plays)
    folder.command("import", "my_spotify_data")
    folder.command("run", "--job", "full_retrain")
    script = DISK_SCRIPT.format(refreshes=refreshes, day=DAY_OF_REFRESHES, end=DEFAULT_END.isoformat(),
                                line=DISK_LINE)
    # One JSON line per simulated day, relayed as it comes: a month takes hours to simulate.
    days, log = [], root / "disk_simulation.log"
    with log.open("w") as errors, subprocess.Popen([str(BIN / "python"), "-c", script], cwd=root, env=folder.env,
                                                   stdout=subprocess.PIPE, stderr=errors, text=True) as process:
        for line in process.stdout:  # the refreshes print their own progress too
            if line.startswith(DISK_LINE):
                days.append(json.loads(line.removeprefix(DISK_LINE)))
                print(f"disk: {days[-1]}", flush=True)
    if process.returncode or not days:
        raise RuntimeError(f"the disk simulation failed:\n{log.read_text()[-3000:]}")
    return {"refreshes": days[-1]["refreshes"], "after_first_day": _sizes(days[0]), "at_end": _sizes(days[-1]),
            "refresh_s_median": days[-1]["refresh_s_median"], "days": days}


def _sizes(day: dict) -> dict:
    return {key: day[key] for key in ("warehouse_mb", "target_mb", "dagster_home_mb")}


DISK_LINE = "disk-day "
DISK_SCRIPT = """
import json, os, sys
from datetime import datetime, time, timedelta
from pathlib import Path
sys.argv = ["spotify-brain"]
from ingest.demo.catalog import build_catalog
from orchestration.benchmark import _mb
from orchestration.cli import run_job
from orchestration.project import PROJECT_ROOT
from warehouse.connection import write_connection
from warehouse.loaders import RawBatch, load_batch
from warehouse.settings import load_settings

settings = load_settings()
tracks = [t["track_id"] for t in build_catalog(42).tracks]
# a month of plays ending now (plays after the clock are refused), after the imported history
start = max(datetime.combine(datetime.fromisoformat("{end}"), time(23)),
            datetime.utcnow() - timedelta(minutes=30 * ({refreshes} + 2)))
seconds = []
for number in range({refreshes}):
    at = start + timedelta(minutes=30 * (number + 1))
    with write_connection(settings.warehouse) as con:
        load_batch(con, RawBatch(source="extended_history", listener_id=settings.listener_id, plays=[
            {{"listener_id": settings.listener_id, "track_id": tracks[(number * 2 + k) % len(tracks)],
              "played_at": at + timedelta(minutes=4 * k), "ms_played": 200000}} for k in range(2)]))
    began = datetime.now()
    assert run_job("refresh", settings), number
    seconds.append((datetime.now() - began).total_seconds())
    if (number + 1) % {day} == 0 or number + 1 == {refreshes}:
        print("{line}" + json.dumps({{"refreshes": number + 1, "warehouse_mb": _mb(Path("warehouse")),
                          "target_mb": _mb(PROJECT_ROOT / "target"),
                          "dagster_home_mb": _mb(Path(os.environ["DAGSTER_HOME"])),
                          "refresh_s_median": sorted(seconds)[len(seconds) // 2]}}), flush=True)
"""


def measure_household(root: Path, listeners: int, days: int, refresh_plays: int) -> dict:
    """Every listener's models in one full retrain; then a refresh where one listener has new plays,
    next to the same refresh in a warehouse of that listener alone."""
    figures: dict = {"listeners": listeners, "days": days}
    for name, count in (("household", listeners), ("alone", 1)):
        folder = Folder(root / name, listener="bench")
        folder.env |= {"SPOTIFY_BRAIN_INGEST_SOURCE": "demo", "SPOTIFY_BRAIN_DEMO_DAYS": str(days),
                       "SPOTIFY_BRAIN_DEMO_LISTENERS": str(count), "SPOTIFY_BRAIN_AUDIO_FEATURES": "none"}
        first = folder.command("run", "--job", "full_retrain")
        folder.env["SPOTIFY_BRAIN_INGEST_SOURCE"] = "none"
        refreshes = []
        for number in range(2):
            _add_demo_plays(folder, refresh_plays, number)
            refreshes.append(folder.command("run", "--job", "refresh"))
        figures[name] = {"plays": _count_plays(folder), "full_retrain": first, "refresh": _best(refreshes),
                         **folder.disk_mb()}
    figures["refresh_household_over_alone"] = round(figures["household"]["refresh"]["s"] / figures["alone"]["refresh"]["s"], 2)
    return figures


def _add_demo_plays(folder: Folder, plays: int, number: int) -> None:
    """`plays` new demo plays for the main listener, landed as the demo source lands them (untimed)."""
    from zoneinfo import ZoneInfo

    from ingest.demo.catalog import build_catalog

    from ingest.demo.generator import generate_plays

    from ingest.demo.rules import DEFAULT_END
    from warehouse.connection import write_connection
    from warehouse.loaders import RawBatch, load_batch

    new = generate_plays(build_catalog(42), "bench", ZoneInfo("Europe/Berlin"), 3, seed=7 + number,
                         end=DEFAULT_END + timedelta(days=3 * (number + 1)))[:plays]
    with write_connection(folder.root / "warehouse" / "bench.duckdb") as con:
        load_batch(con, RawBatch(source="demo", listener_id="bench", plays=new))


def _count_plays(folder: Folder) -> int:
    import duckdb

    con = duckdb.connect(str(folder.root / "warehouse" / "bench.duckdb"), read_only=True)
    try:
        return con.execute("select count(*) from raw.plays").fetchone()[0]
    finally:
        con.close()


def run_benchmark(args) -> dict:
    report: dict = {"machine": {"cores": os.cpu_count(), "python": platform.python_version(),
                                "system": platform.system()}, "sizes": []}
    with tempfile.TemporaryDirectory(prefix="spotify-brain-bench-") as scratch:
        root = Path(scratch)
        report["floor"] = floor = measure_floor(root / "floor", args.repeats)
        print(f"floor: {floor['total_s']} s (definitions {floor['definitions_load']['s']} s, dbt --version "
              f"{floor['dbt_version']['s']} s, dbt build of nothing {floor['dbt_build_nothing']['s']} s)", flush=True)
        for plays in args.sizes:
            figures = measure_size(root / f"size_{plays}", plays, args.repeats, args.refresh_plays)
            for command in ("full_retrain_first", "full_retrain", "refresh", "import"):
                figures[f"{command}_over_floor"] = round(figures[command]["s"] / floor["total_s"], 2)
            report["sizes"].append(figures)
            print(_line(figures), flush=True)
        if args.disk_refreshes:
            report["disk"] = measure_disk(root / "disk", args.disk_refreshes)
            print(f"disk after {args.disk_refreshes} refreshes: {report['disk']}", flush=True)
        if args.household:
            report["household"] = measure_household(root / "household", args.household, args.household_days,
                                                    args.refresh_plays)
            print(f"household: {report['household']}", flush=True)
    Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
    print(f"figures in {args.json}")
    return report


def _line(figures: dict) -> str:
    parts = [f"{figures['plays']} plays:"]
    for command in ("import", "full_retrain_first", "full_retrain", "refresh"):
        parts.append(f"{command} {figures[command]['s']} s ({figures.get(command + '_over_floor')}x floor, "
                     f"{figures[command]['peak_mb']} MB)")
    parts.append(f"warehouse {figures['warehouse_mb']} MB, target {figures['target_mb']} MB")
    for model, m in figures.get("models", {}).items():
        if m["log_loss"] is not None:
            gap = "" if m["gap_closed"] is None else f", oracle {m['oracle']:.4f}: {m['gap_closed']:.0%} of the gap closed"
            parts.append(f"\n  {model}: log loss {m['log_loss']:.4f} ({m['chosen']}; best baseline "
                         f"{m['best_baseline']:.4f}{gap}; served: {m['served']})")
    return " ".join(parts)
