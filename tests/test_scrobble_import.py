"""Last.fm and ListenBrainz exports through `spotify-brain import`: each format the README lists,
the same report and guarantees as Spotify's download, and a person with Spotify's export and a
scrobbler's of the same plays gets every play once (tests/scrobble_exports.py writes the files)."""

import json
import zipfile

import duckdb

import scrobble_exports as exports
from helpers import dbt
from ingest.spotify_download.importer import import_download
from orchestration.cli import main
from orchestration.real_check.command import accounting_problems, year_problems
from orchestration.real_check.count import count_download


def _adds_up(report) -> None:
    assert report.records_read == (report.plays_inserted + report.duplicates_skipped + report.plays_folded
                                   + report.records_rejected + report.set_aside)


def _scrobbles():
    return exports.scrobbled(exports.spotify_plays())


def test_a_lastfm_csv_lands_each_scrobble_at_its_start_and_names_what_it_refuses(con, tmp_path):
    scrobbles = _scrobbles()
    path = exports.write_ghan_csv(tmp_path / "recenttracks-someone-1700000000.csv", scrobbles, extra_rows=[
        ["", "01 Jan 2024, 00:07", "No Time", "", "", "", "Song", ""],
        ["1704067900", "01 Jan 2024, 00:11", "", "", "", "", "No Artist", ""],
        ["1072915200", "01 Jan 2004, 00:00", "Early Adopter", "", "Album, With Comma", "", "2004 Song", ""],
        ["946684800", "01 Jan 2000, 00:00", "Too Early", "", "", "", "Before Last.fm", ""]])
    report = import_download(con, path, "me")
    _adds_up(report)
    assert (report.files_read, report.records_read) == (1, len(scrobbles) + 4)
    assert report.plays_inserted == len(scrobbles) + 1  # the 2004 scrobble is a play: Audioscrobbler existed
    assert dict(report.rejected_by_reason) == {"uts is not a Unix time": 1, "artist or track is missing": 1,
                                               "played_at before Last.fm existed": 1}
    start, record = max(scrobbles)
    row = con.execute("select started_at, played_at, ms_played, source from raw.plays where epoch(started_at) = ?",
                      [start]).fetchall()
    assert row == [(row[0][0], row[0][0], 0, "lastfm")]  # no play time: keyed by its start, minutes from dbt
    tracks = con.execute("select track_name, album_name, artist_names[1] from raw.tracks where track_name = '2004 Song'")
    assert tracks.fetchall() == [("2004 Song", "Album, With Comma", "Early Adopter")]
    again = import_download(con, path, "me")
    assert (again.plays_inserted, again.duplicates_skipped) == (0, len(scrobbles) + 1)


def test_lastfm_json_pages_set_the_track_playing_aside_and_read_a_one_track_page(con, tmp_path):
    scrobbles = _scrobbles()[:7]  # pages of 3: the last page holds one track, as an object
    report = import_download(con, exports.write_ghan_json(tmp_path / "scrobbles.json", scrobbles), "me")
    _adds_up(report)
    assert (report.records_read, report.plays_inserted, report.set_aside) == (8, 7, 1)
    assert con.execute("select count(*) from raw.plays where source = 'lastfm'").fetchone() == (7,)


def test_the_other_lastfm_csvs_are_read_and_the_header_user_name_is_never_stored(con, tmp_path):
    headerless = tmp_path / "lastfm-to-csv.csv"  # benjaminbenben's: artist,album,track,date, to the minute
    headerless.write_text('Ada Lovelace Band,Notes,Engine,30 Dec 2023 20:03\n"Grace Hopper","COBOL, Live",'
                          '"Bug, the First",30 Dec 2023 20:09\nGrace Hopper,x,y,not a date\n')
    stats = tmp_path / "lastfmstats-someone.csv"  # lastfmstats.com's: ;-separated, a BOM, epoch milliseconds
    stats.write_bytes("\ufeffArtist;Album;AlbumId;Track;Date#private-user-name\n"
                      "Ada Lovelace Band;Notes;;Engine;1703966640000\nThe Babbages;Analytical;a1;Difference;soon\n"
                      .encode())
    old_stats = tmp_path / "lastfmstats-old.csv"
    old_stats.write_bytes("\ufeffArtist;Album;Track;Date#private-user-name\nCafé Tacvba;Re;Ojalá Que Llueva Café;"
                          "1703966880000\n".encode())
    for path, plays, rejected in ((headerless, 2, 1), (stats, 1, 1), (old_stats, 1, 0)):
        report = import_download(con, path, "me")
        _adds_up(report)
        assert (report.files_read, report.plays_inserted, report.records_rejected) == (1, plays, rejected), path.name
    starts = con.execute("select strftime(started_at, '%Y-%m-%d %H:%M:%S') from raw.plays order by 1").fetchall()
    assert starts == [("2023-12-30 20:03:00",), ("2023-12-30 20:04:00",), ("2023-12-30 20:08:00",),
                      ("2023-12-30 20:09:00",)]
    assert "private-user-name" not in _everything_stored(con)


def test_a_listenbrainz_zip_reads_spotify_ids_and_lengths_and_never_the_user(con, tmp_path):
    scrobbles = _scrobbles()
    path = exports.write_listenbrainz_zip(tmp_path / "listenbrainz_someone_1700000000.zip", scrobbles,
                                          username="private-lb-user")
    report = import_download(con, path, "me")
    _adds_up(report)
    assert (report.records_read, report.plays_inserted, report.records_rejected) == (len(scrobbles),) * 2 + (0,)
    assert list(report.skipped_files.values()) == ["not a listening-history file"]  # user.json
    with_id = con.execute("select count(*), min(ms_played) from raw.plays where track_id not like 'name:%'").fetchone()
    assert with_id == (len(scrobbles) // 2, 59_000)  # the Spotify id and the track length it gave
    assert con.execute("select count(*) from raw.plays where started_at is null").fetchone() == (0,)
    assert "private-lb-user" not in _everything_stored(con)


def test_listenbrainz_quirks_old_single_file_spotify_importer_end_times_and_bad_lines(con, tmp_path):
    path = tmp_path / "someone_lb-2024-01-31.json"  # the older export: one JSON list
    path.write_text(json.dumps([
        {"listened_at": 1704067200, "track_metadata": {"artist_name": "Ada Lovelace Band", "track_name": "Engine",
                                                       "additional_info": {"duration": 200}}},
        # ListenBrainz's own Spotify importer copies Spotify's played_at, the end
        {"listened_at": 1704067500, "track_metadata": {"artist_name": "The Babbages", "track_name": "Difference",
                                                       "additional_info": {"listening_from": "spotify",
                                                                           "duration_ms": 245000,
                                                                           "spotify_id": "spotify:track:1301WleyT98MSxVHPZCA6M"}}},
        {"listened_at": "yesterday", "track_metadata": {"artist_name": "X", "track_name": "Y"}},
        {"listened_at": 1704067900, "track_metadata": {"artist_name": "", "track_name": "Y",
                                                       "additional_info": {"duration_ms": "not a number"}}},
        [1, 2]]))
    report = import_download(con, path, "me")
    _adds_up(report)
    assert (report.plays_inserted, report.records_rejected) == (2, 3)
    rows = con.execute("select strftime(played_at, '%H:%M:%S'), strftime(started_at, '%H:%M:%S'), ms_played "
                       "from raw.plays order by played_at").fetchall()
    assert rows == [("00:03:20", "00:00:00", 200_000), ("00:05:00", None, 245_000)]


def test_a_broken_scrobble_file_is_named_and_the_others_land(con, tmp_path):
    good = exports.write_ghan_csv(tmp_path / "good.csv", _scrobbles()[:3])
    bad = tmp_path / "bad.csv"
    bad.write_text('uts,utc_time,artist,artist_mbid,album,album_mbid,track,track_mbid\n"1","a","b","c","d","e","f",'
                   '"g","one field too many"\n')
    lines = tmp_path / "listens.jsonl"
    lines.write_text('{"listened_at": 1704067200, "track_metadata": {"artist_name": "A", "track_name": "B"}}\n{"listen')
    report = import_download(con, tmp_path, "me")
    assert report.plays_inserted == 3
    assert set(report.failed_files) == {str(bad), str(lines)}
    assert "not readable as a CSV of Last.fm scrobbles (lastfm.ghan.nl)" in report.failed_files[str(bad)]
    assert "not readable as ListenBrainz listens" in report.failed_files[str(lines)]
    assert str(good) not in report.failed_files


def test_spotify_and_both_scrobblers_of_the_same_plays_count_every_play_once(env, dbt_manifest, monkeypatch):
    """One person's Spotify export, Last.fm export and ListenBrainz export of the same three weeks:
    every play once, with the minutes Spotify measured, the statistics equal to the plain count."""
    monkeypatch.setenv("SPOTIFY_BRAIN_INGEST_SOURCE", "none")
    monkeypatch.setenv("SPOTIFY_BRAIN_LISTENER_ID", "me")
    monkeypatch.setenv("SPOTIFY_BRAIN_AUDIO_FEATURES", "none")
    records = exports.spotify_plays()
    scrobbles = exports.scrobbled(records)
    folder = exports.write_spotify(env / "exports" / "me", records)
    exports.write_ghan_csv(folder / "scrobbles.csv", scrobbles)
    exports.write_listenbrainz_zip(folder / "listenbrainz.zip", scrobbles)
    only_lastfm = exports.write_ghan_csv(env / "exports" / "lastfm_only.csv", scrobbles)
    assert main(["import", str(folder), "--listener", "me", "--timezone", "UTC"]) == 0
    assert main(["import", str(only_lastfm), "--listener", "scrobbler", "--timezone", "UTC"]) == 0
    result = dbt(env / "warehouse/brain.duckdb", "build", "--exclude", "test_type:unit")
    assert result.returncode == 0, result.stdout[-3000:]

    con = duckdb.connect("warehouse/brain.duckdb", read_only=True)
    try:
        plays = con.execute("select source, minutes_basis, count(*), sum(ms_played) from marts.fct_plays "
                            "where listener_id = 'me' group by all").fetchall()
        assert plays == [("extended_history", "played", len(records), sum(r["ms_played"] for r in records))]
        # alone, the Last.fm export counts each scrobble once, at its track's length as the household's
        # finished Spotify plays measured it (a track nobody measured would count the default)
        alone = con.execute("select minutes_basis, count(*), sum(ms_played) from marts.fct_plays "
                            "where listener_id = 'scrobbler' group by all").fetchall()
        lengths = {t[0]: t[4] for t in exports.TRACKS}
        expected_ms = sum(lengths[r["spotify_track_uri"].split(":")[-1]] for _, r in scrobbles)
        assert alone == [("track_length", len(scrobbles), expected_ms)]
        coverage = con.execute("select ms_played_measured, ms_track_length, ms_default_length, scrobble_default_ms "
                               "from marts.listener_coverage order by listener_id").fetchall()
        assert coverage == [(sum(r["ms_played"] for r in records), 0, 0, 210_000), (0, expected_ms, 0, 210_000)]
        counted = count_download(folder, "UTC")
        assert accounting_problems(con, "me", counted, {}) == [] and year_problems(con, "me", counted) == []
        assert accounting_problems(con, "scrobbler", count_download(only_lastfm, "UTC"), {}) == []
    finally:
        con.close()


def _everything_stored(con) -> str:
    """Every text value in the warehouse, for checking that something private never landed."""
    texts = []
    for schema, table, column in con.execute(
            "select table_schema, table_name, column_name from information_schema.columns "
            "where data_type = 'VARCHAR' or data_type like '%[]'").fetchall():
        texts += [str(v) for (v,) in con.execute(f'select "{column}" from "{schema}"."{table}"').fetchall()]
    return "\n".join(texts)


def test_the_drop_folder_takes_a_scrobble_export_as_an_export_not_a_listener(tmp_path):
    from orchestration.sensors import _inbox_items

    inbox = tmp_path / "inbox"
    (inbox / "lastfm").mkdir(parents=True)
    exports.write_ghan_csv(inbox / "lastfm" / "recenttracks.csv", _scrobbles()[:2])
    with zipfile.ZipFile(inbox / "lb.zip", "w") as archive:
        archive.writestr("user.json", "{}")
    items, refused = _inbox_items(inbox)
    assert [item[1] for item in items] == ["", ""] and not refused  # both the main listener's
