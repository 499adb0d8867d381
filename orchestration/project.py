"""Where the dbt project lives, and the manifest Dagster builds its dbt assets from."""

from __future__ import annotations

import os
import shutil
import sys
from functools import cache
from pathlib import Path

from dagster_dbt import DbtProject

PROJECT_ROOT = Path(__file__).resolve().parents[1]
# dbt models rebuilt only when the models are retrained (the refresh job leaves them alone)
TRAINING_TABLES = ("ml_session_start_training", "ml_next_track_training")


def dbt_executable() -> str:
    """The dbt installed beside this Python (the venv's), even when the venv is not activated."""
    beside = Path(sys.executable).parent / "dbt"
    return str(beside) if beside.exists() else shutil.which("dbt") or "dbt"


@cache
def dbt_project() -> DbtProject:
    """dbt_project.yml and profiles.yml sit at the repo root; the manifest in target/.

    The manifest is prepared by `make` / CI (`dbt parse`), by `spotify-brain` before it
    loads the definitions, or by `dagster dev` (prepare_if_dev), never at plain import.
    """
    os.environ.setdefault("DO_NOT_TRACK", "1")  # dbt must not phone home: there is no network
    project = DbtProject(project_dir=PROJECT_ROOT, profiles_dir=PROJECT_ROOT)
    project.prepare_if_dev()
    return project


def prepare_manifest() -> Path:
    """Run `dbt parse` so the manifest matches the models on disk; return its path."""
    from dagster_dbt import DbtCliResource

    project = dbt_project()
    dbt = DbtCliResource(project_dir=project, dbt_executable=dbt_executable())
    dbt.cli(["parse", "--quiet"], target_path=project.target_path).wait()
    return project.manifest_path
