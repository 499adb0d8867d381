"""The GitHub Actions workflows that run the jobs without a server: valid, scheduled, serialised,
and never exposing the token or the listening history to anyone without the repository's secrets."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

WORKFLOWS = Path(__file__).parents[1] / ".github" / "workflows"


def load(name: str) -> dict:
    return yaml.safe_load((WORKFLOWS / name).read_text())


def _steps() -> list[dict]:
    return load("run-job.yml")["jobs"]["run"]["steps"]


def _step(name: str) -> dict:
    return next(step for step in _steps() if step.get("name") == name)


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


def test_third_party_actions_are_pinned_by_commit_and_inputs_never_reach_a_shell_line():
    for workflow in WORKFLOWS.glob("*.yml"):
        text = workflow.read_text()
        for uses in re.findall(r"uses:\s*(\S+)", text):
            assert uses.startswith("./") or re.fullmatch(r"[\w.-]+/[\w./-]+@[0-9a-f]{40}", uses), (workflow.name, uses)
        for job in load(workflow.name)["jobs"].values():
            for step in job.get("steps", []):
                assert "${{" not in step.get("run", ""), (workflow.name, step)


def test_each_secret_reaches_only_the_steps_that_need_it():
    job = load("run-job.yml")["jobs"]["run"]
    assert not any("secrets." in str(value) for value in job["env"].values())
    holders = {step.get("name", step.get("uses")): {k for k, v in step.get("env", {}).items() if "secrets." in str(v)}
               for step in job["steps"]}
    assert {name: keys for name, keys in holders.items() if keys} == {
        "Decrypt the state": {"WAREHOUSE_KEY"}, "Encrypt the state": {"WAREHOUSE_KEY"},
        "Run the job": {"SPOTIFY_CLIENT_ID", "SPOTIFY_CLIENT_SECRET", "SPOTIFY_REFRESH_TOKEN", "WEBSITE_REPO_PAT"}}


def test_only_ciphertext_leaves_the_runner_and_it_comes_back(tmp_path):
    """The cache and the artifact carry the sealed file only; the workflow's own encrypt and decrypt
    steps, run here with bash and openssl, give back the state and never hold the plain history."""
    steps = _steps()
    job_env = load("run-job.yml")["jobs"]["run"]["env"]
    sealed = job_env["SEALED"]
    carried = [step for step in steps if str(step.get("uses", "")).startswith(("actions/cache", "actions/upload"))]
    for step in carried:
        if "warehouse-" in str(step["with"].get("key", step["with"].get("name", ""))):
            assert step["with"]["path"] == "${{ env.SEALED }}", step
    assert all(str(v).startswith("state/") for k, v in job_env.items() if k.endswith(("WAREHOUSE", "DATA_DIR", "TOKEN_FILE")))
    state = tmp_path / "state"
    state.mkdir()
    (state / "spotify_tokens.json").write_text('{"me": {"refresh_token": "rt-very-secret"}}')
    env = {**os.environ, "WAREHOUSE_KEY": "a key kept in the repository's secrets", "SEALED": sealed}
    encrypt = subprocess.run(["bash", "-ec", _step("Encrypt the state")["run"]], cwd=tmp_path, env=env)
    assert encrypt.returncode == 0 and b"rt-very-secret" not in (tmp_path / sealed).read_bytes()
    shutil.rmtree(state)
    decrypt = subprocess.run(["bash", "-ec", _step("Decrypt the state")["run"]], cwd=tmp_path, env=env)
    assert decrypt.returncode == 0 and "rt-very-secret" in (state / "spotify_tokens.json").read_text()
    no_key = subprocess.run(["bash", "-ec", _step("Decrypt the state")["run"]], cwd=tmp_path,
                            env={**env, "WAREHOUSE_KEY": ""}, capture_output=True, text=True)
    assert no_key.returncode == 1 and "WAREHOUSE_KEY" in no_key.stderr


def test_the_encrypted_state_is_restored_before_and_saved_after_every_run():
    steps = _steps()
    names = [step.get("name", step.get("uses", "")) for step in steps]
    order = [names.index(n) for n in ("Restore the encrypted state", "Decrypt the state", "Run the job",
                                      "Encrypt the state", "Keep the encrypted state for the next run")]
    assert order == sorted(order)
    for name in ("Encrypt the state", "Keep the encrypted state for the next run"):
        assert _step(name)["if"] == "always()"
