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
@pytest.mark.parametrize("read_only", [True, False])  # a reader, and a `duckdb` shell opened read-write
def test_a_session_that_holds_the_file_too_long_gets_a_clear_message_not_a_traceback(folder, monkeypatch, read_only):
    code, output = _finish(_command("run", "--job", "refresh"))
    assert code == 0, output
    holder = subprocess.Popen([sys.executable, "-c", "import duckdb, time; "
                               f"c = duckdb.connect('warehouse/brain.duckdb', read_only={read_only}); "
                               "open('held', 'w').close(); time.sleep(60)"])
    try:
        while not Path("held").exists():
            time.sleep(0.1)
        monkeypatch.setenv("SPOTIFY_BRAIN_WRITER_LOCK_TIMEOUT", "3")
        code, output = _finish(_command("run", "--job", "refresh"))
    finally:
        holder.kill()
    assert code == 1 and "Traceback" not in output, output
    assert f"PID {holder.pid}" in output and "duckdb -readonly" in output
    assert "over 3s" in output  # the setting, not a wait of its own
    if not read_only:  # the summary after the failure does not wait again, nor call a shell a job
        assert "no summary:" in output and "waited 0s" in output and "a job is writing" not in output


ROUNDS = 12  # rounds of the start-up race: without the home lock, it failed within them


def test_two_commands_opening_a_new_dagster_home_together_both_work(tmp_path):
    """Each round, two processes open the same new home at one moment (a file barrier, no sleeps):
    Dagster's storage was created by both, one crashed, and a version table could be left with two
    heads that no later command could open."""
    for k in range(ROUNDS):
        (tmp_path / str(k)).mkdir()
    script = Path(__file__).with_name("open_home_together.py")
    processes = [subprocess.Popen([sys.executable, str(script), str(tmp_path), str(ROUNDS), name],
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for name in "ab"]
    for k in range(ROUNDS):
        folder = tmp_path / str(k)
        while not all((folder / f"ready-{name}").exists() for name in "ab"):
            if any(p.poll() is not None for p in processes):
                break
            time.sleep(0.005)
        (folder / "go").touch()
    for process in processes:
        output = process.communicate(timeout=300)[0]
        assert process.returncode == 0, output
    assert len(list(tmp_path.glob("*/done-*"))) == 2 * ROUNDS
    import sqlite3

    for db in tmp_path.glob("*/home/history/runs.db"):
        assert sqlite3.connect(db).execute("select count(*) from alembic_version").fetchone() == (1,)


def test_a_version_table_stamped_twice_is_repaired_when_the_home_opens(env):
    import sqlite3

    import dagster as dg

    from orchestration.runner import dagster_instance

    with dagster_instance() as instance:
        instance.get_runs(limit=1)
    runs = env / "dagster_home" / "history" / "runs.db"
    with sqlite3.connect(runs) as db:  # what the old race left: the newest revision and an older one
        db.execute("insert into alembic_version values ('5771160a95ad')")
    with pytest.raises(Exception, match="more than one head"):
        dg.DagsterInstance.get().get_runs(limit=1)
    with dagster_instance() as instance:
        assert instance.get_runs(limit=1) == []
    assert sqlite3.connect(runs).execute("select count(*) from alembic_version").fetchone() == (1,)


def _small_export(folder: Path, days: int = 5) -> Path:
    import json

    folder.mkdir(parents=True)
    (folder / "Streaming_History_Audio_2025_0.json").write_text(json.dumps([
        {"ts": f"2025-03-{day:02d}T10:00:00Z", "ms_played": 200_000, "master_metadata_track_name": f"Song {day}",
         "master_metadata_album_artist_name": "Band", "spotify_track_uri": "spotify:track:" + "A" * 20 + f"{day:02d}"}
        for day in range(1, days + 1)]))
    return folder


@pytest.mark.slow
def test_two_imports_started_together_on_a_new_home_both_finish(folder):
    export = _small_export(folder / "export")
    runs = [_command("import", str(export), "--listener", "me", "--timezone", "UTC") for _ in range(2)]
    for run in runs:
        code, output = _finish(run)
        assert code == 0 and "Traceback" not in output, output
    import duckdb

    with duckdb.connect("warehouse/brain.duckdb", read_only=True) as con:
        assert con.execute("select count(*) from raw.plays").fetchone() == (5,)  # the second added nothing


@pytest.mark.slow
def test_what_an_import_killed_with_sigkill_unpacked_is_removed_by_the_next(folder, monkeypatch, tmp_path):
    import json
    import zipfile

    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setenv("TMPDIR", str(scratch))
    archive = folder / "my_spotify_data.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped:
        for n in range(40):
            zipped.writestr(f"my_spotify_data/Streaming_History_Audio_{n}.json", json.dumps([
                {"ts": f"2024-01-{1 + n % 28:02d}T{i // 60 % 24:02d}:{i % 60:02d}:00Z", "ms_played": 1000,
                 "spotify_track_uri": f"spotify:track:{i:022d}"} for i in range(5000)]))
    run = _command("import", str(archive), "--listener", "me", "--timezone", "UTC")
    while not list(scratch.glob("spotify-brain-import-*/*.json")):  # killed while it has unpacked files
        assert run.poll() is None, run.communicate()
        time.sleep(0.05)
    os.killpg(run.pid, signal.SIGKILL)
    run.wait(timeout=60)
    left = list(scratch.glob("spotify-brain-import-*"))
    assert left  # what the kill left
    code, output = _finish(_command("import", str(_small_export(folder / "export")), "--listener", "me"))
    assert code == 0, output
    assert not any(folder.exists() for folder in left)
