"""Shared fixtures: an isolated environment per test and a small demo warehouse."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import duckdb
import pytest

from ingest.demo.generator import generate_demo_batches
from orchestration.project import PROJECT_ROOT, target_dir
from warehouse.loaders import ensure_listener, load_batch
from warehouse.schema import ensure_schema
from warehouse.settings import load_settings

SMALL_DEMO_DAYS = 45


def _own_target_per_worker() -> None:
    """Under `pytest -n` (pytest-xdist) each worker gets its own dbt target folder, target-tests/<worker>
    (beside target/, so what the benchmark measures of target/ is what the commands write):
    dbt rewrites the manifest and its compiled SQL there as tests run, and a worker must never
    read another's half-written manifest. It starts from the main one (unless it has a newer one
    of its own), so modules that load the definitions when collected find the current manifest."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not worker:
        return
    main = target_dir()
    os.environ["DBT_TARGET_PATH"] = f"target-tests/{worker}"
    own = target_dir()
    own.mkdir(parents=True, exist_ok=True)
    for name in ("manifest.json", "partial_parse.msgpack"):
        source, copy = main / name, own / name
        if source.exists() and (not copy.exists() or copy.stat().st_mtime < source.stat().st_mtime):
            shutil.copy2(source, copy)


_own_target_per_worker()  # before any test module builds the dbt project from the manifest


@pytest.fixture(scope="session")
def dbt_manifest() -> Path:
    """dbt's manifest, prepared once per test session, or per worker under `pytest -n` (in its own
    target folder), never at import."""
    from helpers import dbt

    result = dbt(PROJECT_ROOT / "warehouse" / "unused.duckdb", "parse", "--quiet")
    assert result.returncode == 0, result.stdout
    return target_dir() / "manifest.json"


def isolate(monkeypatch: pytest.MonkeyPatch, folder: Path) -> Path:
    """Settings pointed into `folder`; no developer .env or Spotify credentials leak in."""
    monkeypatch.chdir(folder)
    for name in list(os.environ):
        if name.startswith(("SPOTIFY_", "RECCOBEATS_", "WEBSITE_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("DO_NOT_TRACK", "1")
    # relative to `folder` (the working folder), as a user's .env has them: every test then has
    # the same dbt profile, so dbt's partial parsing stays valid from test to test
    monkeypatch.setenv("SPOTIFY_BRAIN_WAREHOUSE", "warehouse/brain.duckdb")
    monkeypatch.setenv("SPOTIFY_BRAIN_DATA_DIR", "artifacts")
    monkeypatch.setenv("SPOTIFY_BRAIN_EXPORT_PATH", "export/dashboard_data.json")
    monkeypatch.setenv("SPOTIFY_BRAIN_EXPORT_PATH_PATTERN", "export/listeners/{listener_id}/dashboard_data.json")
    monkeypatch.setenv("SPOTIFY_BRAIN_INBOX", "inbox")
    # runs are recorded in an instance of the test's own, configured as `make dev`'s
    home = folder / "dagster_home"
    home.mkdir(exist_ok=True)
    shutil.copy(PROJECT_ROOT / "orchestration" / "dagster.yaml", home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    # no test reaches the internet: the keyless providers are off unless a test points them at a
    # fake, and ReccoBeats is a closed port on this machine
    monkeypatch.setenv("SPOTIFY_BRAIN_KEYLESS_LOOKUPS", "false")
    monkeypatch.setenv("RECCOBEATS_API_BASE_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("SPOTIFY_BRAIN_INGEST_SOURCE", "demo")
    monkeypatch.setenv("SPOTIFY_BRAIN_DEMO_DAYS", str(SMALL_DEMO_DAYS))
    return folder


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return isolate(monkeypatch, tmp_path)


@pytest.fixture
def con(tmp_path):
    """A new warehouse's connection, its tables created and listener `me` (UTC) known: what the
    import tests land a history in."""
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    ensure_schema(con)
    ensure_listener(con, "me", "Me", "UTC", "test")
    yield con
    con.close()


@pytest.fixture
def demo_warehouse(env: Path) -> Path:
    """A warehouse with the raw tables holding a small demo listener (nothing built yet)."""
    return land_small_demo()


def land_small_demo() -> Path:
    """The small demo listener in the raw tables of the warehouse the settings name."""
    settings = load_settings()
    settings.warehouse.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(settings.warehouse))
    ensure_schema(con)
    for batch in generate_demo_batches(settings.listener_id, settings.timezone, settings.display_name,
                                       days=SMALL_DEMO_DAYS):
        load_batch(con, batch)
    con.close()
    return settings.warehouse
