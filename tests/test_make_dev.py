"""The first door of the README: `make dev`, exactly as a user starts it (same Makefile target,
same dagster.yaml), on a free port; a run launched through its GraphQL API must succeed, and the
per-listener run the sensor requests after it must write the export."""

import json
import os
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from export.write import validate
from orchestration.project import PROJECT_ROOT

DAGSTER_YAML = PROJECT_ROOT / "orchestration" / "dagster.yaml"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _graphql(port: int, query: str, variables: dict | None = None) -> dict:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/graphql", method="POST",
                                     data=json.dumps({"query": query, "variables": variables or {}}).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        body = json.loads(response.read())
    assert "errors" not in body, body
    return body["data"]


def _wait(what: str, seconds: float, check):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if (found := check()) is not None:
                return found
        except OSError:
            pass
        time.sleep(1)
    raise AssertionError(f"timed out after {seconds:.0f}s waiting for {what}")


RUNS = """query { runsOrError { ... on Runs { results { runId jobName status tags { key value } } } } }"""


def _runs(port: int) -> list[dict]:
    return _graphql(port, RUNS)["runsOrError"]["results"]


@pytest.fixture
def dagster_dev(tmp_path):
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").symlink_to(DAGSTER_YAML)  # the very file `make dev` reads
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SPOTIFY_", "WEBSITE_", "DAGSTER_"))}
    env |= {"DAGSTER_HOME": str(home), "PORT": str(port), "DO_NOT_TRACK": "1",
            "SPOTIFY_BRAIN_WAREHOUSE": str(tmp_path / "warehouse" / "brain.duckdb"),
            "SPOTIFY_BRAIN_DATA_DIR": str(tmp_path / "artifacts"),
            "SPOTIFY_BRAIN_EXPORT_PATH": str(tmp_path / "export" / "dashboard_data.json"),
            "SPOTIFY_BRAIN_INBOX": str(tmp_path / "inbox"), "SPOTIFY_BRAIN_DEMO_DAYS": "20"}
    log = (tmp_path / "make-dev.log").open("w")
    process = subprocess.Popen(["make", "dev"], cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                               start_new_session=True)
    try:
        _wait("the Dagster webserver", 180, lambda: _graphql(port, "{ version }")["version"] or None)
        yield port, tmp_path
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
        log.close()
        print((tmp_path / "make-dev.log").read_text()[-3000:])


@pytest.mark.slow  # a webserver, a daemon and a code server started for real: two minutes
def test_make_dev_serves_the_code_location_and_a_launched_refresh_succeeds(dagster_dev):
    port, folder = dagster_dev
    repositories = _graphql(port, """query { repositoriesOrError { ... on RepositoryConnection {
        nodes { name location { name } jobs { name } sensors { name sensorState { status } } } } } }""")
    repository = repositories["repositoriesOrError"]["nodes"][0]
    assert {"full_retrain", "refresh", "listener_refresh", "import_history"} <= {j["name"] for j in repository["jobs"]}
    sensors = {s["name"]: s["sensorState"]["status"] for s in repository["sensors"]}
    assert sensors["per_listener_runs"] == "RUNNING"
    launched = _graphql(port, """mutation($params: ExecutionParams!) { launchRun(executionParams: $params) {
        __typename ... on LaunchRunSuccess { run { runId } } ... on PythonError { message } } }""",
                        {"params": {"selector": {"repositoryLocationName": repository["location"]["name"],
                                                 "repositoryName": repository["name"], "jobName": "refresh"},
                                    "runConfigData": {}}})["launchRun"]
    assert launched["__typename"] == "LaunchRunSuccess", launched
    run_id = launched["run"]["runId"]

    def finished():
        run = next((r for r in _runs(port) if r["runId"] == run_id), None)
        return run["status"] if run and run["status"] in ("SUCCESS", "FAILURE", "CANCELED") else None

    assert _wait("the refresh run", 240, finished) == "SUCCESS"

    def listener_run():  # the sensor asks for the demo listener's predictions and export
        runs = [r for r in _runs(port) if r["jobName"] == "listener_refresh"]
        return runs[0]["status"] if runs and runs[0]["status"] in ("SUCCESS", "FAILURE") else None

    assert _wait("the per-listener run the sensor requests", 240, listener_run) == "SUCCESS"
    validate(json.loads(Path(folder / "export" / "dashboard_data.json").read_text()))
