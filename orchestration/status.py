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


def job_key(job: str, partition: str | None) -> str:
    """One entry per job, and per listener for the per-listener jobs: `listener_refresh[sam]`."""
    return f"{job}[{partition}]" if partition else job


def read_status(settings: Settings) -> dict:
    """{job key: {"last_success": {...}, "last_failure": {...}}}; {} when nothing was recorded."""
    try:
        status = json.loads(_path(settings).read_text())
    except (OSError, ValueError):
        return {}
    return status if isinstance(status, dict) else {}


def _record(settings: Settings, job: str, partition: str | None, kind: str, entry: dict) -> None:
    status = read_status(settings)
    status.setdefault(job_key(job, partition), {})[kind] = {
        **entry, "job": job, "listener": partition, "at": datetime.now(UTC).isoformat(timespec="seconds")}
    path = _path(settings)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=".run_status.", suffix=".tmp")
    with os.fdopen(handle, "w") as out:
        json.dump(status, out)
    os.replace(tmp, path)


def record_failure(settings: Settings, job: str, partition: str | None, step: str | None, error: str,
                   run_id: str | None = None) -> None:
    _record(settings, job, partition, "last_failure", {"step": step, "error": error[:ERROR_LENGTH], "run_id": run_id})


def record_success(settings: Settings, job: str, partition: str | None, run_id: str | None = None) -> None:
    _record(settings, job, partition, "last_success", {"run_id": run_id})


def status_for(status: dict, listener: str) -> dict:
    """What concerns one listener: the shared jobs and that listener's own runs."""
    return {key: entry for key, entry in status.items()
            if isinstance(entry, dict) and all(e.get("listener") in (None, listener)
                                               for e in entry.values() if isinstance(e, dict))}
