"""`spotify-brain bench` as a person runs it on a fresh checkout: every figure the README documents
lands in the JSON. Checked for shape and sense only: timings are the benchmark's to print, never
a test's to assert."""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

import pytest

from orchestration.project import PROJECT_ROOT

SOURCES = ("ingest", "ml", "orchestration", "warehouse", "dbt_project", "dbt_project.yml", "profiles.yml")


def _checkout(folder: Path) -> Path:
    """The project's sources without anything a run leaves (no target/: dbt has parsed nothing)."""
    ignore = shutil.ignore_patterns("__pycache__", "*.duckdb*", "artifacts", "history", "storage", "schedules")
    for name in SOURCES:
        source = PROJECT_ROOT / name
        if source.is_dir():
            shutil.copytree(source, folder / name, ignore=ignore)
        else:
            shutil.copy(source, folder / name)
    return folder


@pytest.mark.slow
def test_the_benchmark_runs_on_a_fresh_checkout_and_writes_every_documented_figure(tmp_path: Path):
    checkout = _checkout(tmp_path / "checkout")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SPOTIFY_", "DAGSTER_"))}
    env["PYTHONPATH"] = str(checkout)  # ahead of the installed project
    result = subprocess.run(
        [str(Path(sys.executable).parent / "spotify-brain"), "bench", "--sizes", "400", "--repeats", "1",
         "--household", "2", "--household-days", "20", "--disk-refreshes", "2", "--json", "figures.json"],
        cwd=checkout, env=env, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "Traceback" not in result.stderr

    figures = json.loads((checkout / "figures.json").read_text())
    floor = figures["floor"]
    for part in ("definitions_load", "dbt_version", "dbt_build_nothing"):
        assert floor[part]["s"] > 0 and floor[part]["peak_mb"] > 0 and len(floor[part]["runs_s"]) == 1
    assert floor["s"] == floor["definitions_load"]["s"]  # the floor is the definitions load alone
    assert floor["tools_startup_total_s"] == pytest.approx(sum(floor[p]["s"] for p in (
        "definitions_load", "dbt_version", "dbt_build_nothing")), abs=0.02)
    [size] = figures["sizes"]
    assert size["plays"] == 400
    for command in ("import", "full_retrain_first", "full_retrain", "refresh", "refresh_nothing_new"):
        assert size[command]["s"] > 0 and size[command]["peak_mb"] > 0
        timing = size[command]
        floors = timing["floor_runs_s"] if "floor_runs_s" in timing else [timing["floor_s"]]
        runs = timing.get("runs_s", [timing["s"]])
        assert len(floors) == len(runs) and min(floors) > 0
        # each run held to the definitions load timed just before it, not to the floor at the start
        assert size[f"{command}_over_floor"] == pytest.approx(
            statistics.median(run / floor_s for run, floor_s in zip(runs, floors)), abs=0.01)
    assert size["warehouse_mb"] > 0 and size["target_mb"] > 0 and size["dagster_home_mb"] > 0
    assert set(size["models"]) == {"next_mood", "session_start"}
    for model in size["models"].values():
        assert {"log_loss", "best_baseline", "oracle", "gap_closed", "chosen", "served"} <= set(model)

    disk = figures["disk"]
    assert disk["refreshes"] == 2 and [day["refreshes"] for day in disk["days"]] == [2]  # a day is 48
    assert disk["keep_refresh_runs_days"] == 3  # the default: nothing in the test's environment
    for sizes in (disk["after_first_day"], disk["at_end"]):
        assert sizes["warehouse_mb"] > 0 and sizes["target_mb"] > 0 and sizes["dagster_home_mb"] > 0
    assert disk["at_end"]["dagster_home_mb"] == disk["days"][-1]["dagster_home_mb"] and disk["refresh_s_median"] > 0

    household = figures["household"]
    assert (household["listeners"], household["days"]) == (2, 20)
    assert household["household"]["plays"] > household["alone"]["plays"] > 0
    for name in ("household", "alone"):
        assert household[name]["full_retrain"]["s"] > 0 and household[name]["refresh"]["s"] > 0
        assert household[name]["generate_and_land"]["s"] > 0
    assert household["refresh_household_over_alone"] == pytest.approx(
        household["household"]["refresh"]["s"] / household["alone"]["refresh"]["s"], abs=0.01)
    assert "plays:" in result.stdout and "disk:" in result.stdout and "household:" in result.stdout
