"""Where the dbt project lives, and the manifest Dagster builds its dbt assets from."""

from __future__ import annotations

import os
import shutil
import sys
from functools import cache
from pathlib import Path

from dagster_dbt import DbtProject

PROJECT_ROOT = Path(__file__).resolve().parents[1]
# what a change to invalidates the manifest
DBT_SOURCES = (PROJECT_ROOT / "dbt_project", PROJECT_ROOT / "dbt_project.yml", PROJECT_ROOT / "profiles.yml")


def target_dir(project_dir: Path = PROJECT_ROOT) -> Path:
    """dbt's target folder (manifest, partial parse, compiled SQL): target/, or DBT_TARGET_PATH,
    which dbt itself reads too (relative to the project). The test suite gives each of its
    parallel workers its own (tests/conftest.py)."""
    return project_dir / os.environ.get("DBT_TARGET_PATH", "target")


def dbt_executable() -> str:
    """The dbt installed beside this Python (the venv's), even when the venv is not activated."""
    beside = Path(sys.executable).parent / "dbt"
    return str(beside) if beside.exists() else shutil.which("dbt") or "dbt"


@cache
def dbt_project() -> DbtProject:
    """dbt_project.yml and profiles.yml sit at the repo root; the manifest in target_dir().

    The manifest is prepared by `make` / CI (`dbt parse`), by `spotify-brain` when a project
    file is newer than it (ensure_manifest), or by `dagster dev` (prepare_if_dev), never at
    plain import.
    """
    os.environ.setdefault("DO_NOT_TRACK", "1")  # dbt must not phone home: there is no network
    project = DbtProject(project_dir=PROJECT_ROOT, profiles_dir=PROJECT_ROOT, target_path=target_dir())
    project.prepare_if_dev()
    return project


def _newest_source_mtime() -> float:
    newest = 0.0
    for source in DBT_SOURCES:
        files = source.rglob("*") if source.is_dir() else [source]
        newest = max([newest, *(f.stat().st_mtime for f in files if f.is_file())])
    return newest


def manifest_is_stale(manifest: Path) -> bool:
    return not manifest.exists() or manifest.stat().st_mtime < _newest_source_mtime()


def ensure_manifest(settings) -> Path:
    """Parse the project (in this process, partially when it can) only if a project file is
    newer than the manifest; return the manifest's path."""
    from orchestration.dbt_runner import dbt_environment, dbt_vars, parsed_project

    manifest = target_dir() / "manifest.json"
    if manifest_is_stale(manifest):
        dbt_environment(settings)
        parsed_project(PROJECT_ROOT, str(settings.warehouse.resolve()), dbt_vars(settings),
                       settings.duckdb_memory_limit)
    return manifest
