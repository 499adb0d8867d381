"""`spotify-brain bench`: its arguments, and the run of every part into one JSON document."""

from __future__ import annotations

import json
import os
import platform
import tempfile
from pathlib import Path

from orchestration.benchmark.disk import measure_disk
from orchestration.benchmark.floor import measure_floor
from orchestration.benchmark.household import measure_household
from orchestration.benchmark.sizes import measure_size

COMMANDS = ("import", "full_retrain_first", "full_retrain", "refresh", "refresh_nothing_new")


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


def run_benchmark(args) -> dict:
    report: dict = {"machine": {"cores": os.cpu_count(), "python": platform.python_version(),
                                "system": platform.system()}, "sizes": []}
    with tempfile.TemporaryDirectory(prefix="spotify-brain-bench-") as scratch:
        root = Path(scratch)
        report["floor"] = floor = measure_floor(root / "floor", args.repeats)
        print(f"floor (the definitions load): {floor['s']} s, and timed again before each command, whose ratio is "
              f"to that run; beside it, dbt --version {floor['dbt_version']['s']} s "
              f"and a dbt build of nothing {floor['dbt_build_nothing']['s']} s", flush=True)
        for plays in args.sizes:
            figures = measure_size(root / f"size_{plays}", plays, args.repeats, args.refresh_plays)
            for command in COMMANDS:
                figures[f"{command}_over_floor"] = figures[command]["over_floor"]
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
    for command in COMMANDS:
        parts.append(f"{command} {figures[command]['s']} s ({figures.get(command + '_over_floor')}x floor, "
                     f"{figures[command]['peak_mb']} MB)")
    parts.append(f"warehouse {figures['warehouse_mb']} MB, target {figures['target_mb']} MB")
    for model, m in figures.get("models", {}).items():
        if m["log_loss"] is not None:
            gap = "" if m["gap_closed"] is None else f", oracle {m['oracle']:.4f}: {m['gap_closed']:.0%} of the gap closed"
            parts.append(f"\n  {model}: log loss {m['log_loss']:.4f} ({m['chosen']}; best baseline "
                         f"{m['best_baseline']:.4f}{gap}; served: {m['served']})")
    return " ".join(parts)
