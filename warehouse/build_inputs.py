"""What dbt's models are built from, as one fingerprint, and the record of the last build of the
core models (`<data dir>/last_dbt_build.json`): a refresh whose inputs are the fingerprint of
the last build has nothing new, so it builds nothing (orchestration/assets/dbt.py), and runs no
listener's predictions or export (orchestration/listeners.py).

The inputs: every `raw.*` table dbt reads (its row count and newest `loaded_at`: the loaders only
ever add rows or fill gaps, and either moves one of the two; the listeners by what they say), the
vars the build gets, and the
checksums of the models (a changed model is new input too). `ml.*` is left out: the mood step
writes it from what dbt built, so it changes only after dbt's inputs did.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import duckdb

from warehouse.loaders import utc_now

# appended to (or gaps filled) only: a row count and the newest load time say when they changed
READ_BY_DBT = ("plays", "tracks", "artists", "audio_features", "recordings", "artist_genres", "track_links")
RECORD = "last_dbt_build.json"
VIEWS_RECORD = "built_views.json"


def fingerprint(con: duckdb.DuckDBPyConnection, dbt_vars: str, model_checksums: dict[str, str]) -> str:
    """One string that changes whenever anything a build reads does."""
    tables = {table: con.execute(f"select count(*), max(loaded_at)::varchar from raw.{table}").fetchone()
              for table in READ_BY_DBT}
    # listeners are written again by every run of a live source: what counts is what they say
    tables["listeners"] = con.execute("select string_agg(concat_ws(chr(31), listener_id, display_name, timezone), "
                                      "chr(30) order by listener_id) from raw.listeners").fetchone()
    state = json.dumps({"tables": tables, "vars": dbt_vars, "models": sorted(model_checksums.items())},
                       sort_keys=True, default=str)
    return hashlib.sha256(state.encode()).hexdigest()


def last_build(data_dir: Path) -> dict:
    """The record of the last build of the core models: {fingerprint, at, job, skipped}; {} if none."""
    try:
        return json.loads((data_dir / RECORD).read_text())
    except (OSError, ValueError):
        return {}


def record_build(data_dir: Path, inputs: str, job: str, skipped: bool) -> None:
    """Write the record (`inputs`: the fingerprint built from) by rename, so a reader never sees half of it."""
    data_dir.mkdir(parents=True, exist_ok=True)
    temporary = data_dir / f".{RECORD}.{os.getpid()}"
    temporary.write_text(json.dumps({"fingerprint": inputs, "at": utc_now().isoformat(timespec="seconds"),
                                     "job": job, "skipped": skipped}))
    os.replace(temporary, data_dir / RECORD)


def built_views(data_dir: Path) -> dict[str, str]:
    """{view name: version} of the views dbt last created (orchestration/dbt_runner.view_versions); {} if none."""
    try:
        return dict(json.loads((data_dir / VIEWS_RECORD).read_text()))
    except (OSError, ValueError, TypeError):
        return {}


def record_views(data_dir: Path, versions: dict[str, str]) -> None:
    """Add the versions of views a build just created to the record, by rename."""
    if not versions:
        return
    data_dir.mkdir(parents=True, exist_ok=True)
    temporary = data_dir / f".{VIEWS_RECORD}.{os.getpid()}"
    temporary.write_text(json.dumps(built_views(data_dir) | versions, sort_keys=True))
    os.replace(temporary, data_dir / VIEWS_RECORD)


def _unfinished_marker(data_dir: Path, step: str) -> Path:
    return data_dir / f"dbt_build_unfinished.{step}"


def build_was_unfinished(data_dir: Path, step: str) -> bool:
    """Did the last build of this dbt step stop before dbt finished it (killed, or a node failed)?
    Its incremental tables may then disagree (plays appended, their sessions not), and each
    incremental model only looks at what landed since the table before it was built."""
    return _unfinished_marker(data_dir, step).exists()


def mark_build(data_dir: Path, step: str, finished: bool) -> None:
    """Before a build: mark it unfinished; after dbt finished it without a failure: clear the mark."""
    marker = _unfinished_marker(data_dir, step)
    if finished:
        marker.unlink(missing_ok=True)
    else:
        data_dir.mkdir(parents=True, exist_ok=True)
        marker.touch()
