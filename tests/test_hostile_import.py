"""Privacy exports as an attacker or a careless user makes them: every bad file is named with its
reason, every other file lands, the counts add up, and no traceback reaches the user."""

import json
import random
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
