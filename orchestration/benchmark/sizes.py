"""One history size: import, the first and the next full retrains, refreshes after new plays and
with nothing new, and each model against its baselines and the oracle."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from orchestration.benchmark.floor import against_floor
from orchestration.benchmark.folders import Folder, best


def measure_size(root: Path, plays: int, repeats: int, refresh_plays: int) -> dict:
    from ingest.demo.catalog import build_catalog
    from ingest.demo.files import write_data_download, write_new_plays
    from ingest.demo.rules import DEFAULT_END
    from ingest.demo.truth import Truth, save_truth, truth_path

    folder = Folder(root)
    truth = Truth()
    write_data_download(root / "my_spotify_data", plays, truth=truth)
    # kept where the command's data dir is, so its runs are measured against the generator too
    save_truth(truth, build_catalog(42), truth_path(root / folder.env["SPOTIFY_BRAIN_DATA_DIR"], folder.listener))
    figures: dict = {"plays": plays}
    figures["import"] = against_floor(folder, "import", "my_spotify_data")
    figures["full_retrain_first"] = against_floor(folder, "run", "--job", "full_retrain")
    figures["models"] = model_figures(root / folder.env["SPOTIFY_BRAIN_WAREHOUSE"], folder.listener)
    figures["full_retrain"] = best([against_floor(folder, "run", "--job", "full_retrain")
                                     for _ in range(max(1, repeats - 1))])
    refreshes = []
    for number in range(repeats):
        new = root / f"new_{number}"
        write_new_plays(new, refresh_plays, DEFAULT_END + timedelta(days=3 * number))
        folder.command("import", str(new))
        refreshes.append(against_floor(folder, "run", "--job", "refresh"))
    figures["refresh"] = best(refreshes)
    # then nothing new: a refresh that finds nothing builds nothing (warehouse/build_inputs.py)
    figures["refresh_nothing_new"] = best([against_floor(folder, "run", "--job", "refresh") for _ in range(repeats)])
    figures |= folder.disk_mb()
    return figures


def model_figures(warehouse: Path, listener: str) -> dict:
    """Each model's holdout log loss next to its best baseline's and the oracle's (the demo
    generator's own probabilities), and the share of that gap the model closes."""
    import duckdb

    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        rows = con.execute("""select model_name, metrics, baselines, oracle, params, served from ml.model_runs
                              where listener_id = ? qualify row_number() over (
                                  partition by model_name order by trained_at desc) = 1""", [listener]).fetchall()
    finally:
        con.close()
    figures = {}
    for model, metrics, baselines, oracle, params, served in rows:
        losses = [b["log_loss"] for b in json.loads(baselines).values() if b.get("log_loss") is not None]
        oracle = json.loads(oracle or "null") or {}
        figures[model] = {"log_loss": json.loads(metrics).get("log_loss"), "best_baseline": min(losses, default=None),
                          "oracle": oracle.get("log_loss"), "gap_closed": oracle.get("gap_closed"),
                          "chosen": json.loads(params).get("chosen"), "served": served}
    return figures
