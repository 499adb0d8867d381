"""The floor: the definitions load (`python -c "import orchestration.definitions"`: Dagster,
dagster-dbt and dbt imported, the definitions built; the process then ends as a command does,
without the interpreter's teardown), the one start-up every command's process pays, and which no
command of ours can beat. Beside it, named for what they are, `dbt --version` and a `dbt build`
selecting nothing, as separate processes (a command of ours starts neither)."""

from __future__ import annotations

from pathlib import Path

from orchestration.benchmark.folders import BIN, Folder, best, timed
from orchestration.project import PROJECT_ROOT, dbt_executable

# ended as a command ends (cli.entry): without the interpreter's teardown of Dagster's and dbt's
# objects, which no command pays (0.9 s here; with it, every ratio read about a quarter kinder)
DEFINITIONS_LOAD = [str(BIN / "python"), "-c", "import os, orchestration.definitions; os._exit(0)"]


def measure_floor(root: Path, repeats: int) -> dict:
    """The definitions load (`s`, the floor printed first) and the tools' other start-ups."""
    folder = Folder(root)
    dbt = dbt_executable()
    project = ["--project-dir", str(PROJECT_ROOT), "--profiles-dir", str(PROJECT_ROOT)]
    (root / "warehouse").mkdir()
    parts = {"definitions_load": DEFINITIONS_LOAD, "dbt_version": [dbt, "--version"],
             "dbt_build_nothing": [dbt, "build", "--select", "tag:selects_nothing", "--quiet", *project]}
    figures = {}
    for name, args in parts.items():  # in the folder, with the commands' own settings: dbt's best case
        figures[name] = best([timed(args, root, folder.env) for _ in range(repeats)])
    figures["tools_startup_total_s"] = round(sum(part["s"] for part in figures.values()), 2)
    figures["s"] = figures["definitions_load"]["s"]
    return figures


def against_floor(folder: Folder, *args: str) -> dict:
    """One timed command, and the definitions load timed just before it in the same folder: this
    machine's speed drifted by up to 40% within an hour, so each run is held to its own moment's floor."""
    floor_s = timed(DEFINITIONS_LOAD, folder.root, folder.env)["s"]
    timing = folder.command(*args)
    return timing | {"floor_s": floor_s, "over_floor": round(timing["s"] / floor_s, 2)}
