"""Training runs: one row per run in `ml.model_runs`, its predictor saved under the data dir.

A run id is a hash of the model name, its parameters and its training data, so training
again on the same data is the same run: nothing new is stored and the export is unchanged.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import duckdb
import joblib
import numpy as np


@dataclass
class ModelRun:
    model_name: str
    listener_id: str | None
    params: dict
    data_start: datetime | None
    data_end: datetime | None
    n_train: int
    n_val: int
    metrics: dict
    baselines: dict
    served: str
    model_beats_baseline: bool | None
    confidence_kind: str
    note: str | None = None
    run_id: str = ""
    artifact_path: str | None = None
    extra: dict = field(default_factory=dict)


def fingerprint(*arrays: np.ndarray) -> str:
    """A short content hash of the training data."""
    digest = hashlib.sha256()
    for array in arrays:
        array = np.asarray(array)
        if array.dtype.kind in "OUS":  # hash the text, not object pointers
            digest.update("\x1f".join(map(str, array.ravel())).encode())
        else:
            digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()[:12]


def make_run_id(model_name: str, listener_id: str | None, params: dict, data_hash: str) -> str:
    payload = json.dumps({"m": model_name, "l": listener_id, "p": params, "d": data_hash}, sort_keys=True, default=str)
    return f"{model_name}-{hashlib.sha256(payload.encode()).hexdigest()[:12]}"


def save_run(con: duckdb.DuckDBPyConnection, run: ModelRun, data_dir: Path, artifact: object) -> ModelRun:
    """Store the run and its artifact unless a run with this id exists already."""
    exists = con.execute("select artifact_path from ml.model_runs where run_id = ?", [run.run_id]).fetchone()
    if exists:
        run.artifact_path = exists[0]
        return run
    folder = data_dir.resolve() / "models" / run.run_id
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = folder / "predictor.joblib"
    joblib.dump(artifact, path)
    run.artifact_path = str(path)
    con.execute(
        "insert into ml.model_runs values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            run.run_id, run.model_name, run.listener_id, datetime.now(timezone.utc).replace(tzinfo=None),
            json.dumps(run.params, default=str), run.data_start, run.data_end, run.n_train, run.n_val,
            json.dumps(run.metrics), json.dumps(run.baselines), run.served, run.model_beats_baseline,
            run.confidence_kind, run.artifact_path, run.note,
        ],
    )
    return run


def latest_run(con: duckdb.DuckDBPyConnection, model_name: str, listener_id: str | None) -> dict | None:
    """The newest stored run of a model for a listener, as a dict of its columns."""
    cursor = con.execute(
        """
        select * from ml.model_runs
        where model_name = ? and listener_id is not distinct from ?
        order by data_end desc nulls last, trained_at desc limit 1
        """,
        [model_name, listener_id],
    )
    row = cursor.fetchone()
    if row is None:
        return None
    return dict(zip([d[0] for d in cursor.description], row))


def load_artifact(run: dict) -> object:
    path = Path(run["artifact_path"])
    if not path.exists():
        raise FileNotFoundError(
            f"model run {run['run_id']}: artifact {path} is missing; run the full_retrain job to retrain"
        )
    return joblib.load(path)
