"""Runs and readers at once, and runs killed halfway, through the real commands in real processes:
writers queue, readers never break a run, and a kill never leaves the warehouse locked."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent


@pytest.fixture
def folder(env, dbt_manifest, monkeypatch):
    monkeypatch.setenv("SPOTIFY_BRAIN_DEMO_DAYS", "20")
    return env


def _command(*args: str) -> subprocess.Popen:
    return subprocess.Popen([str(BIN / "spotify-brain"), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)


def _finish(process: subprocess.Popen, timeout: float = 300) -> tuple[int, str]:
    out, err = process.communicate(timeout=timeout)
    return process.returncode, out + err


def _reader() -> subprocess.Popen:
    """The README's ad-hoc SQL door, polled once a second until a file `stop` appears: `duckdb
    -readonly` on the file. Prints how many reads succeeded."""
    script = (f"ok=0; while [ ! -e stop ]; do "
              f"{BIN / 'duckdb'} -readonly warehouse/brain.duckdb -c 'select count(*) from raw.plays' >/dev/null 2>&1 "
              f"&& ok=$((ok+1)); sleep 1; done; echo $ok")
    return subprocess.Popen(["bash", "-c", script], stdout=subprocess.PIPE, text=True)


def test_two_refreshes_and_a_polling_reader_all_succeed(folder):
    code, output = _finish(_command("run", "--job", "refresh"))  # the warehouse exists, the reader can read
    assert code == 0, output
    reader = _reader()
    first, second = _command("run", "--job", "refresh"), _command("run", "--job", "refresh")
    for run in (first, second):
        code, output = _finish(run)
        assert code == 0 and "Traceback" not in output, output
    (folder / "stop").touch()
    reads = int(reader.communicate(timeout=60)[0].strip())
    assert reads > 0  # the reader got its answers between the writes


@pytest.mark.slow
def test_a_run_killed_during_dbt_leaves_nothing_locked(folder):
    code, output = _finish(_command("run", "--job", "refresh"))
    assert code == 0, output
    run = _command("run", "--job", "full_retrain")
    for line in run.stderr:  # kill it once its dbt step has started
        if "dbt_core_models ..." in line:
            time.sleep(1)
            os.killpg(run.pid, signal.SIGKILL)
            break
    run.wait(timeout=60)
    assert run.returncode == -signal.SIGKILL
    code, output = _finish(_command("run", "--job", "refresh"), timeout=120)
    assert code == 0, output
    import dagster as dg

    statuses = [r.dagster_run.status for r in dg.DagsterInstance.get().get_run_records()]
    assert dg.DagsterRunStatus.STARTED not in statuses  # the killed run shows as failed, not running


@pytest.mark.slow
def test_a_reader_that_holds_the_file_too_long_gets_a_clear_message_not_a_traceback(folder, monkeypatch):
    code, output = _finish(_command("run", "--job", "refresh"))
    assert code == 0, output
    holder = subprocess.Popen([sys.executable, "-c", "import duckdb, time; "
                               "c = duckdb.connect('warehouse/brain.duckdb', read_only=True); time.sleep(60)"])
    try:
        time.sleep(2)
        monkeypatch.setenv("SPOTIFY_BRAIN_WRITER_LOCK_TIMEOUT", "3")
        code, output = _finish(_command("run", "--job", "refresh"))
    finally:
        holder.kill()
    assert code == 1 and "Traceback" not in output, output
    assert f"PID {holder.pid}" in output and "duckdb -readonly" in output
