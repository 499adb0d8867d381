"""The GitHub Actions workflows that run the jobs without a server: valid, scheduled, serialised."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import yaml

WORKFLOWS = Path(__file__).parents[1] / ".github" / "workflows"


def load(name: str) -> dict:
    return yaml.safe_load((WORKFLOWS / name).read_text())


def test_workflows_pass_actionlint():
    actionlint = shutil.which("actionlint", path=str(Path(sys.executable).parent))
    assert actionlint, "actionlint is missing: pip install -c constraints.txt -e '.[dev]'"
    result = subprocess.run([actionlint, "-color=false", *sorted(map(str, WORKFLOWS.glob("*.yml")))],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_refresh_every_30_minutes_and_retrain_daily_one_at_a_time():
    refresh, retrain = load("refresh.yml"), load("full-retrain.yml")
    # PyYAML reads the key `on` as True
    assert refresh[True]["schedule"] == [{"cron": "*/30 * * * *"}]
    assert retrain[True]["schedule"] == [{"cron": "15 4 * * *"}]
    assert refresh["concurrency"] == retrain["concurrency"] == {"group": "spotify-brain-warehouse",
                                                                "cancel-in-progress": False}
    assert refresh["jobs"]["refresh"]["with"] == {"job": "refresh"}
    assert retrain["jobs"]["full-retrain"]["with"] == {"job": "full_retrain"}
    for workflow in (refresh, retrain):
        job = next(iter(workflow["jobs"].values()))
        assert set(job["secrets"]) == {"SPOTIFY_CLIENT_ID", "SPOTIFY_CLIENT_SECRET", "SPOTIFY_REFRESH_TOKEN",
                                       "WEBSITE_REPO_PAT"}


def test_the_warehouse_is_restored_before_and_saved_after_every_run():
    steps = load("run-job.yml")["jobs"]["run"]["steps"]
    uses = [step.get("uses", step.get("run", "")) for step in steps]
    restore = next(i for i, u in enumerate(uses) if u.startswith("actions/cache/restore"))
    run = next(i for i, u in enumerate(uses) if "spotify-brain run" in u)
    save = next(i for i, u in enumerate(uses) if u.startswith("actions/cache/save"))
    assert restore < run < save and steps[save]["if"] == "always()"
    assert steps[restore]["with"]["path"] == steps[save]["with"]["path"] == "warehouse"
