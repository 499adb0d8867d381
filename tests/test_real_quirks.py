"""What real exports hold (tests/real_quirks.py): each quirk imports as the README says, and the
daily job carries listeners made of them through to a valid export, with statistics that equal
a plain count of their files."""

import json
import math

import duckdb
import pytest

import real_quirks
import scrobble_exports
from export.write import validate
from ingest.spotify_download.importer import import_download
from orchestration.cli import main
from orchestration.real_check.command import accounting_problems, year_problems
from orchestration.real_check.count import count_download


def _import(con, tmp_path, records: list[dict], name: str = "Streaming_History_Audio_2023_0.json"):
    path = tmp_path / name
    path.write_text(json.dumps(records))
    report = import_download(con, path, "me")
    assert report.records_read == len(records) == (report.plays_inserted + report.duplicates_skipped
                                                   + report.plays_folded + report.records_rejected + report.set_aside)
    assert not report.failed_files and not report.skipped_files
    return report


def test_zero_length_plays_are_plays(con, tmp_path):
    report = _import(con, tmp_path, real_quirks.zero_length_month())
    assert report.plays_inserted == 6 * (31 + 29 + 31) and report.records_rejected == 0
    assert con.execute("select count(*) from raw.plays where ms_played = 0").fetchone() == (6 * 29,)


def test_old_fields_offline_times_incognito_and_null_skips_import_alike(con, tmp_path):
    records = real_quirks.old_fields_and_offline_times()
    report = _import(con, tmp_path, records)
    assert report.plays_inserted == len(records)
    stored = con.execute("select count(*) filter (where skipped is null), count(*) from raw.plays").fetchone()
    assert stored == (len(records), len(records))
    assert "made-up-user" not in str(con.execute("select * from raw.plays").fetchall())


def test_adjacent_exact_duplicates_land_once_and_are_counted_as_duplicates(con, tmp_path):
    records = real_quirks.adjacent_exact_duplicates()
    report = _import(con, tmp_path, records)
    assert (report.plays_inserted, report.duplicates_skipped, report.plays_folded) == (len(records) // 2,) * 2 + (0,)


def test_records_naming_nothing_and_audiobook_chapters_are_set_aside(con, tmp_path):
    report = _import(con, tmp_path, real_quirks.not_music_in_music_files())
    assert (report.plays_inserted, report.set_aside, report.records_rejected) == (1, 3, 0)


def test_one_track_ending_twice_at_one_second_is_one_play_the_longest(con, tmp_path):
    report = _import(con, tmp_path, real_quirks.same_end_time_records())
    assert (report.plays_inserted, report.plays_folded) == (3, 1)
    assert con.execute("select max(ms_played) filter (where track_id = ?) from raw.plays",
                       [real_quirks.track_id(11)]).fetchone() == (240_000,)


def test_account_data_minutes_of_one_track_add_up_and_unknown_names_stay_plays(con, tmp_path):
    records = real_quirks.account_data_oddities()
    report = _import(con, tmp_path, records, "StreamingHistory_music_0.json")
    assert report.plays_folded == 1 and report.plays_inserted == len(records) - 1
    # the restart (4 s) and the play (188 s) that ended in the same minute: both heard
    assert con.execute("select ms_played from raw.plays where ms_played > 150000").fetchall() == [(192_000,)]


def test_account_podcasts_and_audiobooks_are_streaming_history_set_aside(con, tmp_path):
    for name, records in real_quirks.account_podcasts_and_audiobooks().items():
        report = _import(con, tmp_path, records, name)
        assert (report.files_read, report.set_aside, report.plays_inserted) == (1, len(records), 0)


def test_old_video_files_are_set_aside_whole(con, tmp_path):
    report = _import(con, tmp_path, [real_quirks.extended(real_quirks.datetime(2022, 1, 1), 9000, None)] * 2,
                     "endvideo.json")
    assert report.set_aside == 2


def test_the_plain_count_reads_every_record(tmp_path):
    counted = count_download(real_quirks.write_listener(tmp_path / "quirks", "quirks"), "UTC")
    files = [json.loads(p.read_text()) for p in (tmp_path / "quirks").rglob("*.json")]
    assert counted.records == sum(len(records) for records in files)
    assert set(counted.minutes_by_year) == {"2019", "2023", "2024"}
    assert counted.minutes_by_year["2019"] == round((210_000 + 180_000) / 60000, 2)


def test_the_daily_job_carries_every_odd_history_to_a_valid_export(env, dbt_manifest, monkeypatch):
    """A household of odd listeners: a month of zero-length plays, a one-week history, one artist
    only, and every quirk at once, retrained in one run. Each gets a valid export, and its yearly
    minutes and top artists equal a plain count of its files."""
    monkeypatch.setenv("SPOTIFY_BRAIN_INGEST_SOURCE", "none")
    monkeypatch.setenv("SPOTIFY_BRAIN_AUDIO_FEATURES", "none")
    monkeypatch.setenv("SPOTIFY_BRAIN_LISTENER_ID", "quirks")
    counted = {}
    for name in real_quirks.LISTENERS:
        folder = real_quirks.write_listener(env / "exports" / name, name)
        assert main(["import", str(folder), "--listener", name, "--timezone", "UTC"]) == 0
        counted[name] = count_download(folder, "UTC")
    assert main(["run", "--job", "full_retrain"]) == 0

    con = duckdb.connect("warehouse/brain.duckdb", read_only=True)
    try:
        for name in real_quirks.LISTENERS:
            assert accounting_problems(con, name, counted[name], {}) == []
            assert year_problems(con, name, counted[name]) == []
        # a month with no listening time has no shares: null, never NaN
        month = con.execute("select new_artist_share, top10_artist_share, artist_entropy_bits "
                            "from marts.stats_monthly where listener_id = 'zero_month' and month = '2024-02'").fetchone()
        assert month == (None, None, None)
    finally:
        con.close()
    for name in real_quirks.LISTENERS:
        path = env / ("export/dashboard_data.json" if name == "quirks" else f"export/listeners/{name}/dashboard_data.json")
        data = json.loads(path.read_text())
        validate(data)
        latest = data["metrics"]["latest"]
        assert latest is not None and latest["session_model"] is not None, name
        assert not any(isinstance(v, float) and math.isnan(v) for v in _numbers(data))


def _numbers(value):
    if isinstance(value, dict):
        for item in value.values():
            yield from _numbers(item)
    elif isinstance(value, list):
        for item in value:
            yield from _numbers(item)
    else:
        yield value


@pytest.mark.slow
def test_check_real_runs_each_export_as_a_user_would_and_reports_a_table(tmp_path, dbt_manifest, capsys):
    """The command a person points at their own export (or a panel): each listener of the fixture
    panel through import, refresh and full_retrain in a fresh folder, every invariant holding; a
    broken export fails the run and is named in the table."""
    panel = tmp_path / "panel"
    for name in ("quirks", "one_week"):
        real_quirks.write_listener(panel / name, name)
    # a ListenBrainz export alone, one track's later listens crediting another artist name (Spotify
    # changed the credit): they count under the track's first listen's artist, in both readings
    scrobbles = scrobble_exports.scrobbled(scrobble_exports.spotify_plays())
    first_track = scrobble_exports.TRACKS[0][0]
    scrobble_exports.write_listenbrainz_zip(panel / "renamed.zip", [
        (start, r | {"master_metadata_album_artist_name": "Ada Lovelace & Friends"})
        if n >= len(scrobbles) // 2 and r["spotify_track_uri"].endswith(first_track) else (start, r)
        for n, (start, r) in enumerate(scrobbles)])
    (panel / "broken").mkdir()
    (panel / "broken" / "StreamingHistory_music_0.json").write_text('[{"endTime": "2024-01-01 10:00", "artistName"')
    assert main(["check-real", str(panel), "--json", str(tmp_path / "figures.json")]) == 1
    out = capsys.readouterr().out
    figures = {row["listener"]: row for row in json.loads((tmp_path / "figures.json").read_text())}
    assert [row["ok"] for row in figures.values()] == [False, True, True, True]  # broken/ comes first by name
    assert "import failed" in figures["#1"]["problems"][0]
    quirks = figures["#3"]  # broken, one_week, quirks, renamed.zip
    assert quirks["report"]["plays_folded"] > 0 and quirks["commands"]["full_retrain"]["ok"]
    assert quirks["models"]["session_start"]["served"]
    week = figures["#2"]["models"]["session_start"]  # a week of plays: a baseline, never a model that loses
    assert week["served"].endswith("_baseline") and week["chosen"] is None
    assert week["served_log_loss"] == week["best_baseline_log_loss"] and week["gain"] == 0
    assert "| #3 |" in out and "quirks" not in out.split("| listener |", 1)[1]  # the table names no one
