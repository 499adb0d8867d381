"""What the last runs of each job did, kept beside the model artifacts so the export and its
preview can say when the pipeline is failing (a failed run writes no export, so the last good
one would look fine).

Written by the run sensors (`make dev`'s daemon) and by `spotify-brain run`; one small JSON file
with one entry per job, replaced whole each time, so it never grows.
"""

from __future__ import annotations

import json
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from warehouse.settings import Settings

ERROR_LENGTH = 500


def _path(settings: Settings) -> Path:
    return settings.data_dir / "run_status.json"


def read_status(settings: Settings) -> dict:
    """{job: {"last_success": {...}, "last_failure": {...}}}; {} when nothing was recorded."""
    try:
        status = json.loads(_path(settings).read_text())
    except (OSError, ValueError):
        return {}
    return status if isinstance(status, dict) else {}


def _record(settings: Settings, job: str, kind: str, entry: dict) -> None:
    status = read_status(settings)
    status.setdefault(job, {})[kind] = {**entry, "job": job, "at": datetime.now(UTC).isoformat(timespec="seconds")}
    path = _path(settings)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=".run_status.", suffix=".tmp")
    with os.fdopen(handle, "w") as out:
        json.dump(status, out)
    os.replace(tmp, path)


def record_failure(settings: Settings, job: str, step: str | None, error: str, run_id: str | None = None) -> None:
    _record(settings, job, "last_failure", {"step": step, "error": error[:ERROR_LENGTH], "run_id": run_id})


def record_success(settings: Settings, job: str, run_id: str | None = None) -> None:
    _record(settings, job, "last_success", {"run_id": run_id})
