"""Loading is idempotent, one transaction per batch, and rejects bad records with a reason."""

from datetime import datetime

import duckdb
import pytest

from ingest.demo.generator import generate_demo_batches
from warehouse.connection import WarehouseBusyError, write_connection, writer_lock
from warehouse.loaders import RawBatch, latest_played_at_ms, load_batch
from warehouse.schema import ensure_schema


@pytest.fixture
def con(tmp_path):
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    ensure_schema(con)
    yield con
    con.close()


def _play(track="t1", at="2026-01-01 10:00:00", ms=200_000, listener="l1"):
    return {"listener_id": listener, "track_id": track,
            "played_at": None if at is None else datetime.fromisoformat(at), "ms_played": ms}


def test_loading_the_same_batch_twice_adds_nothing(con):
    batch = generate_demo_batches("demo", "Europe/Berlin", "Demo", days=5)[0]
    first = load_batch(con, batch)
    counts = [con.execute(f"select count(*) from raw.{t}").fetchone()[0] for t in ("plays", "tracks", "artists")]
    second = load_batch(con, batch)
    assert first.plays_inserted == len(batch.plays) > 0
    assert (second.plays_inserted, second.plays_duplicate) == (0, len(batch.plays))
    assert [con.execute(f"select count(*) from raw.{t}").fetchone()[0] for t in ("plays", "tracks", "artists")] == counts


def test_every_play_keeps_listener_source_and_run(con):
    report = load_batch(con, RawBatch(source="demo", listener_id="l1", plays=[_play()]))
    row = con.execute("select listener_id, source, ingest_run_id from raw.plays").fetchone()
    assert row == ("l1", "demo", report.ingest_run_id)


def test_repeats_inside_a_batch_land_once(con):
    report = load_batch(con, RawBatch(source="demo", listener_id="l1", plays=[_play(), _play(), _play("t2")]))
    assert (report.plays_inserted, report.plays_duplicate) == (2, 1)


def _same_key_records(con, values: str):
    # how the privacy-export import hands plays over: a DuckDB relation with record_no
    return con.sql(f"""select 'l1' as listener_id, 't1' as track_id, timestamp '2026-01-01 10:00:00' as played_at,
                               ms as ms_played, null::boolean as skipped, null as reason_start, null as reason_end,
                               null::boolean as shuffle, null as context_uri, null as platform,
                               null::timestamp as started_at, record_no
                        from (values {values}) v(record_no, ms)""")


def test_records_of_one_exact_end_time_are_one_play_the_longest_whatever_their_order(con):
    plays = _same_key_records(con, "(7, 111), (3, 333), (5, 555), (9, 333)")
    report = load_batch(con, RawBatch(source="extended_history", listener_id="l1", plays=plays))
    # the repeat of 333 is a duplicate; 111 and 333 are folded into the longest
    assert (report.records_read, report.plays_inserted, report.plays_duplicate, report.plays_folded) == (4, 1, 1, 2)
    assert con.execute("select ms_played from raw.plays").fetchall() == [(555,)]
    again = load_batch(con, RawBatch(source="extended_history", listener_id="l1", plays=plays))
    assert (again.plays_inserted, again.plays_duplicate, again.plays_folded) == (0, 2, 2)
    run = con.execute("select plays_folded from raw.ingest_runs where ingest_run_id = ?", [again.ingest_run_id])
    assert run.fetchone() == (2,)


def test_account_data_records_of_one_minute_add_their_listening_time_up(con):
    # endTime is cut to the minute: a 4 s restart and a 3-minute play can share it; both were heard
    plays = _same_key_records(con, "(1, 4000), (2, 180000), (3, 4000)")
    report = load_batch(con, RawBatch(source="account_data", listener_id="l1", plays=plays))
    assert (report.plays_inserted, report.plays_duplicate, report.plays_folded) == (1, 1, 1)
    assert con.execute("select ms_played from raw.plays").fetchall() == [(184000,)]


def test_bad_records_are_rejected_with_reason_and_the_rest_loads(con):
    plays = [_play(), _play(track=None), _play("t3", at=None), _play("t4", ms=-5)]
    report = load_batch(con, RawBatch(source="demo", listener_id="l1", plays=plays))
    assert (report.plays_inserted, report.records_rejected, report.plays_duplicate) == (1, 3, 0)
    reasons = con.execute("select record_ref, reason from raw.rejected_records order by record_ref").fetchall()
    assert reasons == [("play #1", "missing track_id"), ("play #2", "missing played_at"),
                       ("play #3", "negative or missing ms_played")]


def test_a_failing_batch_leaves_nothing_half_written(con):
    load_batch(con, RawBatch(source="demo", listener_id="l1", plays=[_play()]))
    broken = RawBatch(source="demo", listener_id="l1", plays=[_play("t9", at="2026-02-01 10:00:00")],
                      tracks=[{"track_id": "t9", "duration_ms": "not a number"}])
    with pytest.raises(Exception):
        load_batch(con, broken)
    assert con.execute("select count(*) from raw.plays").fetchone()[0] == 1
    assert con.execute("select count(*) from raw.tracks").fetchone()[0] == 0
    outcomes = con.execute("select outcome, plays_inserted from raw.ingest_runs order by started_at").fetchall()
    assert outcomes == [("success", 1), ("failed", 0)]


def test_cursor_is_the_newest_play_in_unix_ms(con):
    assert latest_played_at_ms(con, "l1") is None
    load_batch(con, RawBatch(source="demo", listener_id="l1",
                             plays=[_play(at="2026-01-01 00:00:01"), _play("t2", at="2026-01-01 00:00:00")]))
    assert latest_played_at_ms(con, "l1") == 1767225601000


def test_a_second_writer_waits_then_fails_naming_the_file(tmp_path):
    path = tmp_path / "w.duckdb"
    with writer_lock(path):
        with pytest.raises(WarehouseBusyError, match="w.duckdb"):
            with write_connection(path, timeout_s=0.3):
                pass
    with write_connection(path, timeout_s=0.3) as con:  # free again
        assert con.execute("select 1").fetchone() == (1,)
