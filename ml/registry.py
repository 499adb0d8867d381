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
    # demo listeners only: the generator's own holdout figures and the share of the gap closed
    oracle: dict | None = None
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
    """Store the run and its artifact unless a run with this id exists already (then only an
    artifact lost since, say with a cleared data folder, is written again)."""
    exists = con.execute("select artifact_path from ml.model_runs where run_id = ?", [run.run_id]).fetchone()
    folder = data_dir.resolve() / "models" / run.run_id
    path = Path(exists[0]) if exists and exists[0] else folder / "predictor.joblib"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        scratch = path.with_suffix(".partial")  # a failed dump never leaves a half artifact behind
        joblib.dump(artifact, scratch)
        scratch.replace(path)
    run.artifact_path = str(path)
    if exists:
        return run
    values = {
        "run_id": run.run_id, "model_name": run.model_name, "listener_id": run.listener_id,
        "trained_at": datetime.now(timezone.utc).replace(tzinfo=None), "params": json.dumps(run.params, default=str),
        "data_start": run.data_start, "data_end": run.data_end, "n_train": run.n_train, "n_val": run.n_val,
        "metrics": json.dumps(run.metrics), "baselines": json.dumps(run.baselines), "served": run.served,
        "model_beats_baseline": run.model_beats_baseline, "confidence_kind": run.confidence_kind,
        "artifact_path": run.artifact_path, "note": run.note,
        "oracle": None if run.oracle is None else json.dumps(run.oracle),
    }
    con.execute(f"insert into ml.model_runs ({', '.join(values)}) values ({', '.join('?' * len(values))})",
                list(values.values()))
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


def current_run(con: duckdb.DuckDBPyConnection, model_name: str, listener_id: str | None,
                features: list[str]) -> dict | None:
    """The newest run, unless it serves a model trained on other features than this version
    computes (stored before an upgrade): that one cannot score, so there is none until a retrain."""
    run = latest_run(con, model_name, listener_id)
    if run and run["served"] == "model" and json.loads(run["params"] or "{}").get("features") != features:
        return None
    return run


def load_artifact(run: dict) -> object:
    path = Path(run["artifact_path"])
    if not path.exists():
        raise FileNotFoundError(
            f"model run {run['run_id']}: artifact {path} is missing; run the full_retrain job to retrain"
        )
    return joblib.load(path)
