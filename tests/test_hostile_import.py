"""Privacy exports as an attacker or a careless user makes them: every bad file is named with its
reason, every other file lands, the counts add up, and no traceback reaches the user."""

import json
import random
import shutil
import zipfile
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from ingest.spotify_download.importer import import_download
from orchestration.cli import main
from warehouse.loaders import ensure_listener
from warehouse.schema import ensure_schema

GOOD = [{"ts": f"2025-03-0{day}T10:00:00Z", "ms_played": 200_000, "spotify_track_uri": "spotify:track:" + "A" * 21 + str(day),
         "master_metadata_track_name": f"Song {day}", "master_metadata_album_artist_name": "Band",
         "skipped": False, "reason_end": "trackdone", "ip_addr": "192.0.2.1"} for day in range(1, 6)]


@pytest.fixture
def con():
    con = duckdb.connect()
    ensure_schema(con)
    ensure_listener(con, "me", "Me", "Europe/Berlin", "test")
    yield con
    con.close()


def _export(folder: Path, **extra: bytes) -> Path:
    """A folder with one good file and the given extra files (name -> bytes)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "Streaming_History_Audio_2025_0.json").write_text(json.dumps(GOOD))
    for name, data in extra.items():
        (folder / name).write_bytes(data)
    return folder


def _adds_up(report) -> bool:
    return report.records_read == (report.plays_inserted + report.duplicates_skipped + report.records_rejected
                                   + report.set_aside)


def _failed_reason(report, name: str) -> str:
    return next(why for file, why in report.failed_files.items() if file.endswith(name))


@pytest.mark.parametrize("data, reason", [
    (json.dumps(GOOD).encode("utf-16"), "UTF-16"),
    (b"[" * 100_000, "invalid or truncated JSON"),
    ('[{"master_metadata_track_name": "Caf\xe9"}]'.encode("latin-1"), "not UTF-8"),
    (b'{"ts": "2025-01-01T00:00:00Z"}', "expected a JSON list"),
])
def test_an_unreadable_file_is_named_and_the_good_one_lands(con, tmp_path, data, reason):
    report = import_download(con, _export(tmp_path / "export", **{"Streaming_History_Audio_2025_1.json": data}), "me")
    assert reason in _failed_reason(report, "Streaming_History_Audio_2025_1.json")
    assert report.plays_inserted == 5 and _adds_up(report)


def _zip(path: Path, members: dict[str, bytes], encrypted: set[str] = frozenset()) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(f"my_spotify_data/{name}", data)
    data = bytearray(path.read_bytes())
    for name in encrypted:  # set the "encrypted" flag in the member's local and central headers
        for signature, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
            header = data.rfind(signature, 0, data.index(f"my_spotify_data/{name}".encode(),
                                                        data.find(signature) if signature == b"PK\x01\x02" else 0))
            data[header + offset] |= 0x1
    path.write_bytes(bytes(data))
    return path


def test_damaged_encrypted_and_bomb_members_are_refused_and_the_rest_lands(con, tmp_path):
    good = json.dumps(GOOD).encode()
    bomb = b"[" + b" " * (150 << 20) + b"]"  # 150 MB of spaces in a few hundred KB
    archive = _zip(tmp_path / "my_spotify_data.zip", {
        "Streaming_History_Audio_2025_0.json": good, "Streaming_History_Audio_2025_1.json": good.replace(b"2025", b"2024"),
        "Streaming_History_Audio_2025_2.json": good, "Streaming_History_Audio_2025_3.json": bomb},
        encrypted={"Streaming_History_Audio_2025_2.json"})
    data = bytearray(archive.read_bytes())
    start = data.index(b"Streaming_History_Audio_2025_1.json") + 60  # inside that member's compressed data
    data[start] ^= 0xFF
    archive.write_bytes(bytes(data))
    report = import_download(con, archive, "me")
    assert "damaged zip member" in _failed_reason(report, "Audio_2025_1.json")
    assert "encrypted" in _failed_reason(report, "Audio_2025_2.json")
    assert "zip bomb" in _failed_reason(report, "Audio_2025_3.json")
    assert report.plays_inserted == 5 and _adds_up(report)


def test_a_zip_cut_short_fails_with_exit_1(env, tmp_path, capsys):
    archive = _zip(tmp_path / "my_spotify_data.zip", {"Streaming_History_Audio_2025_0.json": json.dumps(GOOD * 50).encode()})
    archive.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])
    assert main(["import", str(archive)]) == 1
    err = capsys.readouterr().err
    assert "not a readable zip" in err and "Traceback" not in err


def test_glob_characters_read_only_that_file_and_links_out_of_the_folder_are_refused(con, tmp_path):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "Streaming_History_Audio_9.json").write_text(json.dumps(GOOD))
    folder = _export(tmp_path / "export [2025]", **{"Streaming_History_Audio_*.json": json.dumps(GOOD[:2]).encode()})
    (folder / "Streaming_History_Audio_link.json").symlink_to(outside / "Streaming_History_Audio_9.json")
    report = import_download(con, folder, "me")
    assert report.records_read == 7  # 5 + 2: nothing read twice through a pattern
    assert "outside the export folder" in _failed_reason(report, "Streaming_History_Audio_link.json")


def test_a_huge_value_gives_a_short_reason(con, tmp_path):
    huge = [{**GOOD[0], "spotify_track_uri": "x" * 5_000_000}]
    import_download(con, _export(tmp_path / "export", **{"Streaming_History_Audio_2025_1.json": json.dumps(huge).encode()}),
                  "me")
    (reason, payload), = con.execute("select reason, payload from raw.rejected_records").fetchall()
    assert reason.startswith("spotify_track_uri is not a track URI") and len(reason) < 300 and len(payload) <= 2000


def test_plays_before_spotify_or_in_the_future_are_rejected_with_the_reason(con, tmp_path):
    dated = [{**GOOD[0], "ts": ts} for ts in ("0001-01-01T00:00:00Z", "2099-06-01T00:00:00Z", "9999-12-31T23:59:59Z",
                                               (datetime.utcnow() + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ"))]
    report = import_download(con, _export(tmp_path / "export", **{"Streaming_History_Audio_2025_1.json":
                                                               json.dumps(dated).encode()}), "me")
    assert report.rejected_by_reason == {"played_at before Spotify existed": 1, "played_at in the future": 2}
    assert report.plays_inserted == 6 and _adds_up(report)  # two hours ahead is within the clock's slack
    assert con.execute("select min(played_at), max(played_at) < now() + interval 1 day from raw.plays").fetchone()[0] \
        >= datetime(2006, 1, 1)


def _mutations(rng: random.Random, text: str) -> bytes:
    """One damaged variant of a small export file."""
    data = text.encode()
    kind = rng.randrange(8)
    if kind == 0:  # cut anywhere
        return data[: rng.randrange(len(data))]
    if kind == 1:  # bytes flipped
        flipped = bytearray(data)
        for _ in range(rng.randint(1, 20)):
            flipped[rng.randrange(len(flipped))] = rng.randrange(256)
        return bytes(flipped)
    records = json.loads(text)
    if kind == 2:  # fields swapped between keys
        for record in records:
            keys = list(record)
            a, b = rng.sample(keys, 2)
            record[a], record[b] = record[b], record[a]
        return json.dumps(records).encode()
    if kind == 3:  # another encoding
        return text.encode(rng.choice(["utf-16", "utf-32", "latin-1", "utf-8-sig"]))
    if kind == 4:  # values of the wrong type or size
        for record in records:
            record[rng.choice(list(record))] = rng.choice([None, [], {}, -1, 2**70, "", "\u0000", 1e308, True])
        return json.dumps(records).encode()
    if kind == 5:  # records that are not objects
        return json.dumps([rng.choice([1, "x", None, [records[0]], records[0]]) for _ in records]).encode()
    if kind == 6:  # nesting
        return (b"[" * rng.randint(1, 3000)) + data + (b"]" * rng.randint(0, 3000))
    return data.replace(b'"', b"", rng.randint(1, 5))  # quotes lost


@pytest.mark.parametrize("variants", [60, pytest.param(300, marks=pytest.mark.slow)])
def test_hundreds_of_damaged_variants_never_raise_and_always_add_up(tmp_path, variants):
    rng = random.Random(2026)
    text = json.dumps(GOOD)
    for number in range(variants):
        folder = tmp_path / f"v{number}"
        folder.mkdir()
        (folder / "Streaming_History_Audio_2025_0.json").write_bytes(_mutations(rng, text))
        (folder / "StreamingHistory_music_0.json").write_bytes(_mutations(rng, json.dumps(
            [{"endTime": "2025-03-01 10:00", "artistName": "Band", "trackName": "Song", "msPlayed": 1000}] * 3)))
        con = duckdb.connect()
        ensure_schema(con)
        ensure_listener(con, "me", "Me", "UTC", "test")
        report = import_download(con, folder, "me")
        assert _adds_up(report), (number, report)
        assert report.files_read + len(report.failed_files) == 2, (number, report)
        stored = con.execute("select count(*) from raw.plays").fetchone()[0]
        assert stored == report.plays_inserted, number
        con.close()


def test_link_loops_and_links_to_nothing_are_refused_by_name_and_the_rest_lands(con, tmp_path):
    folder = _export(tmp_path / "export")
    (folder / "a").symlink_to(folder / "b")
    (folder / "b").symlink_to(folder / "a")
    (folder / "Streaming_History_Audio_2025_1.json").symlink_to(folder / "gone.json")
    report = import_download(con, folder, "me")
    assert {Path(name).name for name in report.failed_files} == {"a", "b", "Streaming_History_Audio_2025_1.json"}
    assert "leads nowhere" in _failed_reason(report, "a")
    assert report.plays_inserted == 5 and _adds_up(report)


@pytest.mark.parametrize("blank", [b" " * 4096, b"\n\t \r\n" * 50_000, b""])
def test_a_file_of_nothing_but_white_space_is_named_empty(con, tmp_path, blank):
    report = import_download(con, _export(tmp_path / "export", **{"Streaming_History_Audio_2025_1.json": blank}), "me")
    assert "empty file" in _failed_reason(report, "Streaming_History_Audio_2025_1.json")
    assert report.plays_inserted == 5


def test_a_lone_half_of_an_emoji_is_repaired_and_said_and_real_pairs_are_kept(con, tmp_path):
    names = ["Fire \ud83d",  # json.dumps writes the escape \\ud83d
             "Smile \ud83d\ude00", "Tail \ude00 end",
             "Literal \\ud83d"]  # a backslash, then text
    records = [{**GOOD[0], "master_metadata_track_name": name, "spotify_track_uri": "spotify:track:" + "B" * 21 + str(n)}
               for n, name in enumerate(names)]
    text = json.dumps(records)
    assert "\\ud83d" in text
    report = import_download(con, _export(tmp_path / "export", **{"Streaming_History_Audio_2025_1.json": text.encode()}),
                             "me")
    assert not report.failed_files
    assert report.repaired_files == {str(tmp_path / "export" / "Streaming_History_Audio_2025_1.json"): 2}
    assert any("lone surrogate" in line for line in report.lines())
    names = {name for (name,) in con.execute("select track_name from raw.tracks").fetchall()}
    assert {"Fire \ufffd", "Smile \U0001f600", "Tail \ufffd end", "Literal \\ud83d"} <= names
    assert report.plays_inserted == 9 and _adds_up(report)


def test_each_zip_is_opened_once_however_many_members_it_has(con, tmp_path, monkeypatch):
    opened = []

    class CountingZipFile(zipfile.ZipFile):
        def __init__(self, file, *args, **kwargs):
            opened.append(file)
            super().__init__(file, *args, **kwargs)

    members = {f"Streaming_History_Audio_{n}.json": json.dumps([{**GOOD[0], "ts": f"2024-01-01T{n // 60:02d}:{n % 60:02d}:00Z"}]).encode()
               for n in range(300)}
    archive = _zip(tmp_path / "my_spotify_data.zip", members)
    monkeypatch.setattr(zipfile, "ZipFile", CountingZipFile)
    report = import_download(con, archive, "me")
    assert report.files_read == 300 and report.plays_inserted == 300
    assert len(opened) <= 2  # found, then read: not once per member


def _dead_pid() -> int:
    import subprocess

    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


def test_scratch_a_killed_import_left_behind_is_removed_by_the_next(con, tmp_path, monkeypatch):
    import os
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    dead = tmp_path / f"spotify-brain-import-{_dead_pid()}-x1"
    running = tmp_path / f"spotify-brain-import-{os.getpid()}-x2"
    old, recent = tmp_path / "spotify-brain-import-oldstyle1", tmp_path / "spotify-brain-import-oldstyle2"
    for folder in (dead, running, old, recent):
        folder.mkdir()
        (folder / "1.json").write_bytes(b"[]" * 1000)
    os.utime(old, (0, 0))
    import_download(con, _export(tmp_path / "export"), "me")
    assert not dead.exists() and not old.exists()
    assert running.exists() and recent.exists()  # an import still going, and one we cannot tell
    assert not [p for p in tmp_path.glob("spotify-brain-import-*") if p not in (running, recent)]


def test_a_path_with_no_streaming_history_in_it_says_so_and_exits_1(env, tmp_path, capsys):
    folder = tmp_path / "downloads"
    folder.mkdir()
    (folder / "Userdata.csv").write_text("name,value\nx,1\n")
    assert main(["import", str(folder)]) == 1
    err = capsys.readouterr().err
    assert f"nothing to import in {folder}" in err and "Traceback" not in err


@pytest.mark.parametrize("listener", ["", "me\n", "a b", "../up", "é"])
def test_a_listener_id_that_is_not_one_is_refused_by_name_before_anything_is_written(env, tmp_path, capsys, listener):
    assert main(["import", str(_export(tmp_path / "export")), "--listener", listener]) == 1
    assert repr(listener) in capsys.readouterr().err
    assert not (env / "warehouse").exists()


def test_every_other_door_refuses_a_listener_id_by_name(env, monkeypatch, capsys):
    import dagster as dg

    from orchestration.sensors import inbox_imports
    from warehouse.settings import SettingsError, load_settings

    monkeypatch.setenv("SPOTIFY_BRAIN_LISTENER_ID", "me\n")
    with pytest.raises(SettingsError, match=r"SPOTIFY_BRAIN_LISTENER_ID.*'me\\n'"):
        load_settings()
    monkeypatch.delenv("SPOTIFY_BRAIN_LISTENER_ID")
    monkeypatch.setenv("SPOTIFY_BRAIN_LISTENERS", '[{"listener_id": "me"}, {"listener_id": "a b"}]')
    with pytest.raises(SettingsError, match=r"SPOTIFY_BRAIN_LISTENERS.*entry 1.*'a b'"):
        load_settings()  # at start-up, whatever the source
    monkeypatch.delenv("SPOTIFY_BRAIN_LISTENERS")
    _export(env / "inbox" / "a b" / "my_spotify_data")  # a subfolder per listener, their exports in it
    _export(env / "inbox" / "sam" / "my_spotify_data")
    result = inbox_imports(dg.build_sensor_context())
    assert [r.run_config["ops"]["ingest"]["config"]["listener_id"] for r in result] == ["sam"]
    shutil.rmtree(env / "inbox" / "sam")
    assert "'a b'" in inbox_imports(dg.build_sensor_context()).skip_message
