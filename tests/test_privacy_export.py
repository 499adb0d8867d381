"""Importing Spotify's privacy exports: both formats, damage of several kinds, no double counting."""

import json
import shutil
import zipfile
from pathlib import Path

import duckdb
import pytest

import ingest.spotify_download.records as export_records
from ingest.spotify_download.importer import import_download
from orchestration.cli import main
from helpers import dbt
from warehouse.loaders import ensure_listener
from warehouse.schema import ensure_schema

FIXTURES = Path(__file__).parent / "fixtures" / "privacy_export"
EXTENDED_A = "0aym2LBJBk9DAYuHHutrIl"   # Hey Jude, also in the account data
BJORK = "4SpBe1lkPawbGV1Ygd7Adk"


@pytest.fixture
def con(tmp_path):
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    ensure_schema(con)
    ensure_listener(con, "me", "Me", "Europe/Berlin", "test")
    yield con
    con.close()


def _damaged(folder: Path) -> Path:
    shutil.copytree(FIXTURES, folder)
    (folder / "Streaming_History_Audio_2020_1.json").write_text('[{"ts": "2020-01-01T10:00:00Z", "ms_pla')
    (folder / "Streaming_History_Audio_2020_2.json").write_text("")
    (folder / "Streaming_History_Audio_2020_3.json").write_bytes('[{"master_metadata_track_name": "Caf\xe9"}]'.encode("latin-1"))
    (folder / "StreamingHistory_music_9.json").write_text('{"endTime": "2026-01-01 10:00"}')
    (folder / "ReadMeFirst.pdf").write_bytes(b"%PDF-1.4")
    shutil.copy(folder / "endsong_0.json", folder / "endsong_0 (copy).json".replace(" (copy)", "_copy"))
    return folder


def test_counts_add_up_and_say_why(con):
    report = import_download(con, FIXTURES, "me")
    assert report.files_read == 4
    assert report.records_read == 16
    assert (report.plays_inserted, report.duplicates_skipped, report.records_rejected, report.set_aside) == (9, 1, 3, 3)
    assert report.records_read == (report.plays_inserted + report.duplicates_skipped
                                   + report.records_rejected + report.set_aside)
    assert report.rejected_by_reason == {"ms_played is not a non-negative integer": 1,
                                         "ts is not an ISO 8601 UTC time": 1,
                                         "artistName or trackName is missing": 1}
    refs = [r[0] for r in con.execute("select record_ref from raw.rejected_records order by all").fetchall()]
    assert any(ref.endswith("Streaming_History_Audio_2025-2026_0.json record #6") for ref in refs)
    assert report.unresolved_tracks == 1  # "Some Local Band - Demo Tape" is known by name only


def test_importing_twice_adds_nothing(con):
    import_download(con, FIXTURES, "me")
    before = con.execute("select count(*) from raw.plays").fetchone()[0]
    again = import_download(con, FIXTURES, "me")
    assert again.plays_inserted == 0 and again.duplicates_skipped == 10
    assert con.execute("select count(*) from raw.plays").fetchone()[0] == before


def test_zip_folder_and_single_file_land_the_same_plays(con, tmp_path):
    archive = tmp_path / "my_spotify_data.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for file in FIXTURES.iterdir():
            zf.write(file, f"Spotify Extended Streaming History/{file.name}")
        zf.writestr("Spotify Extended Streaming History/ReadMeFirst_ExtendedStreamingHistory.pdf", b"%PDF")
    report = import_download(con, archive, "me")
    assert report.plays_inserted == 9
    assert list(report.skipped_files.values()) == ["not a listening-history file"]
    single = import_download(con, FIXTURES / "endsong_0.json", "me")
    assert (single.plays_inserted, single.duplicates_skipped) == (0, 2)


def test_damaged_files_are_named_and_the_rest_loads(con, tmp_path):
    report = import_download(con, _damaged(tmp_path / "export"), "me")
    failed = report.failed_files
    assert set(Path(name.split("!")[-1]).name for name in failed) == {
        "Streaming_History_Audio_2020_1.json", "Streaming_History_Audio_2020_2.json",
        "Streaming_History_Audio_2020_3.json", "StreamingHistory_music_9.json"}
    messages = " ".join(failed.values())
    assert "invalid or truncated JSON" in messages and "empty file" in messages
    assert "not UTF-8" in messages and "expected a JSON list" in messages
    assert report.plays_inserted == 9  # every valid file still loaded in full
    assert any("same content as" in why for why in report.skipped_files.values())
    assert con.execute("select count(*) from raw.plays where played_at >= '2020-01-01' "
                       "and played_at < '2020-01-02'").fetchone()[0] == 0


def test_no_ip_user_agent_username_or_country_is_stored(con):
    import_download(con, FIXTURES, "me")
    dump = " ".join(str(row) for table in ("plays", "tracks", "rejected_records", "ingest_runs")
                    for row in con.execute(f"select * from raw.{table}").fetchall())
    for private in ("192.0.2.10", "198.51.100.7", "Mozilla", "someone", "'DE'", "'SE'"):
        assert private not in dump


def _build(warehouse: Path) -> list[tuple]:
    result = dbt(warehouse, "build")
    assert result.returncode == 0, result.stdout[-3000:]
    con = duckdb.connect(str(warehouse), read_only=True)
    rows = con.execute("select track_id, played_at, source, local_played_at from marts.fct_plays order by all").fetchall()
    con.close()
    return rows


@pytest.mark.slow
def test_one_history_whatever_the_order_of_imports(tmp_path):
    results = []
    for order in (["StreamingHistory_music_0.json", "Streaming_History_Audio_2025-2026_0.json", "endsong_0.json"],
                  ["endsong_0.json", "Streaming_History_Audio_2025-2026_0.json", "StreamingHistory_music_0.json",
                   "Streaming_History_Audio_2025-2026_0.json"]):
        warehouse = tmp_path / f"{len(results)}.duckdb"
        con = duckdb.connect(str(warehouse))
        ensure_schema(con)
        ensure_listener(con, "me", "Me", "Europe/Berlin", "test")
        for name in order:
            import_download(con, FIXTURES / name, "me")
        con.close()
        results.append(_build(warehouse))
    assert results[0] == results[1]
    plays = results[0]
    assert len(plays) == 7  # Hey Jude and Jóga at 01:00 came from both formats: counted once
    assert [p[2] for p in plays if p[0] == EXTENDED_A] == ["extended_history"]
    assert sum(1 for p in plays if p[0] == BJORK) == 2  # the account-data name resolved to the real id
    # across the spring-forward change: 00:59:59 UTC is 01:59:59 CET, 01:00:01 UTC is 03:00:01 CEST
    local = {p[0]: p[3] for p in plays if str(p[1]).startswith("2026-03-29 0")}
    assert str(local[EXTENDED_A]) == "2026-03-29 01:59:59" and str(local[BJORK]) == "2026-03-29 03:00:01"


def test_import_command_reports_and_fails_on_damaged_files(env, tmp_path, capsys):
    assert main(["import", str(FIXTURES), "--listener", "me", "--timezone", "Europe/Berlin"]) == 0
    out = capsys.readouterr().out
    assert "16 records read" in out and "plays inserted      9" in out
    assert "still without audio features" in out  # and what the coming runs will do about it
    assert main(["import", str(_damaged(tmp_path / "damaged"))]) == 1
    assert "Streaming_History_Audio_2020_1.json" in capsys.readouterr().err


def test_a_new_listener_must_say_its_timezone_and_nothing_is_written_before(env, capsys):
    assert main(["import", str(FIXTURES), "--listener", "sam"]) == 1
    err = capsys.readouterr().err
    assert "'sam' is new" in err and "--timezone" in err and "Traceback" not in err
    con = duckdb.connect("warehouse/brain.duckdb", read_only=True)
    assert con.execute("select count(*) from raw.listeners where listener_id = 'sam'").fetchone() == (0,)
    con.close()
    assert main(["import", str(FIXTURES), "--listener", "sam", "--timezone", "posix/Europe/Berlin"]) == 1
    assert "not one DuckDB knows" in capsys.readouterr().err
    assert main(["import", str(FIXTURES), "--listener", "sam", "--timezone", "America/New_York",
                 "--display-name", "Sam"]) == 0
    con = duckdb.connect("warehouse/brain.duckdb", read_only=True)
    assert con.execute("select display_name, timezone from raw.listeners where listener_id = 'sam'").fetchall() == [
        ("Sam", "America/New_York")]
    con.close()


def test_a_path_that_does_not_exist_is_named_and_creates_nothing(env, capsys):
    assert main(["import", "no/such/export.zip"]) == 1
    assert "no/such/export.zip: no such file or folder" in capsys.readouterr().err
    assert not (env / "warehouse").exists()


def test_records_of_the_wrong_shape_are_rejected_by_name_and_the_rest_load(con, tmp_path):
    good = {"ts": "2024-05-01T10:00:00Z", "ms_played": 180000, "spotify_track_uri": "spotify:track:" + "a" * 22,
            "master_metadata_track_name": "Song", "master_metadata_album_artist_name": "Band",
            "ip_addr": "203.0.113.9", "an_unknown_field": {"nested": [1, 2]}}
    records = [good, [1, {"ip_addr": "203.0.113.9"}], "text", None, {**good, "skipped": "yes"}, {**good, "ms_played": 1.5},
               {**good, "ms_played": 2**40}, {**good, "ts": "2024-05-01 10:00:00"},
               {**good, "spotify_track_uri": "spotify:track:short"}, {**good, "shuffle": 1}]
    path = tmp_path / "Streaming_History_Audio_2024.json"
    path.write_text(json.dumps(records))
    report = import_download(con, path, "me")
    assert (report.records_read, report.plays_inserted, report.records_rejected) == (10, 1, 9)
    assert report.rejected_by_reason == {
        "record is not an object": 3, "skipped has type varchar, expected boolean": 1,
        "ms_played is not a non-negative integer": 2, "ts is not an ISO 8601 UTC time": 1,
        "spotify_track_uri is not a track URI": 1, "shuffle has type ubigint, expected boolean": 1}
    rows = con.execute("select record_ref, reason, payload from raw.rejected_records order by record_ref").fetchall()
    assert [r[0].rsplit(" ", 1)[-1] for r in rows] == [f"#{n}" for n in range(1, 10)]
    assert all(r[0].startswith(str(path)) for r in rows)
    assert "203.0.113.9" not in str(rows) and '"yes"' in rows[3][1]
    assert [row[1] for row in rows[:3]] == ["record is not an object: array", "record is not an object: varchar",
                                           "record is not an object: null"]


def test_the_fast_read_and_the_whole_record_read_check_alike(tmp_path, monkeypatch):
    # Files whose records are all objects take the fast read; one scalar record sends a file
    # through whole-record parsing. Both must judge every record the same way.
    good = {"ts": "2024-05-01T10:00:00Z", "ms_played": 180000, "spotify_track_uri": "spotify:track:" + "b" * 22,
            "master_metadata_track_name": "Caf\u00e9 \"Tune\"", "master_metadata_album_artist_name": "Band",
            "skipped": None, "shuffle": True, "ip_addr": "203.0.113.9"}
    records = [good, {**good, "skipped": "yes"}, {**good, "ms_played": 1.5}, {**good, "ms_played": None},
               {**good, "master_metadata_track_name": 5}, {**good, "ts": {"at": 1}}, {"ts": "2024-05-01T11:00:00Z"},
               {**good, "spotify_track_uri": None, "spotify_episode_uri": "spotify:episode:x"}, {}]
    con = duckdb.connect()
    con.execute("attach ':memory:' as staging")
    objects = tmp_path / "objects.json"
    objects.write_text(json.dumps(records))
    mixed = tmp_path / "mixed.json"
    mixed.write_text(json.dumps(records + [7]))
    whole_record_read = export_records._objects_of_whole_records
    with monkeypatch.context() as patched:  # the first file must not need the whole-record read
        patched.setattr(export_records, "_objects_of_whole_records", lambda fields: pytest.fail("fast read failed"))
        export_records.stage_file(con, str(objects), "extended", "f", "staging.fast")
    assert export_records._objects_of_whole_records is whole_record_read
    export_records.stage_file(con, str(mixed), "extended", "f", "staging.whole")
    columns = "record_no, record_ref, reason, set_aside, track_name, payload"
    fast = con.execute(f"select {columns} from staging.fast order by record_no").fetchall()
    whole = con.execute(f"select {columns} from staging.whole order by record_no").fetchall()
    assert fast == whole[:len(records)] and whole[-1][2].startswith("record is not an object")
    reasons = [row[2] and row[2].split(":")[0] for row in fast]
    assert reasons == [None, "skipped has type varchar, expected boolean", "ms_played is not a non-negative integer",
                       "ms_played is not a non-negative integer", "master_metadata_track_name has type ubigint, "
                       "expected string", "ts has type object, expected string",
                       "ms_played is not a non-negative integer", None, "ms_played is not a non-negative integer"]
    assert fast[0][4] == 'Café "Tune"' and fast[7][3]  # names unescaped; the episode set aside
    assert "203.0.113.9" not in str(fast)


def test_an_import_in_several_batches_lands_what_one_batch_lands(con, tmp_path, monkeypatch):
    whole = import_download(con, FIXTURES, "me")
    in_one = con.execute("select * exclude (ingest_run_id, loaded_at) from raw.plays order by all").fetchall()
    other = duckdb.connect(str(tmp_path / "batches.duckdb"))
    ensure_schema(other)
    ensure_listener(other, "me", "Me", "Europe/Berlin", "test")
    monkeypatch.setattr("ingest.spotify_download.importer.CHUNK_RECORDS", 2)  # a batch after every file
    batched = import_download(other, FIXTURES, "me")
    assert vars(batched) == vars(whole)
    assert other.execute("select * exclude (ingest_run_id, loaded_at) from raw.plays order by all").fetchall() == in_one
    runs = other.execute("select count(*), sum(records_read) from raw.ingest_runs").fetchone()
    assert runs == (4, whole.records_read)  # one per file: no file is split, none is lost
    other.close()
