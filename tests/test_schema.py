"""The Python-owned tables: what a schedule rewrites every run does not grow with the runs, and
a warehouse made by an older version is brought in line without losing a row."""

import duckdb
import pytest

from warehouse.schema import KEYS_DROPPED, ensure_schema

REWRITES = 40


def _sizes(con) -> dict[str, tuple[int, int]]:
    """(rows DuckDB stores, deleted ones included; rows alive) of each rewritten table."""
    stored = dict(con.execute("select table_name, estimated_size from duckdb_tables() "
                              "where schema_name = 'ml'").fetchall())
    return {table: (stored[table], con.execute(f"select count(*) from ml.{table}").fetchone()[0])
            for table in KEYS_DROPPED}


def _rewrite(con, run: int) -> None:
    """What each run does: every track's mood and the listener's predictions replaced."""
    con.execute("delete from ml.track_moods")
    con.execute("insert into ml.track_moods select 'track' || i, (i + ?) % 8, 'run' from range(500) r(i)", [run])
    con.execute("delete from ml.next_mood_predictions where listener_id = 'l1'")
    con.execute("insert into ml.next_mood_predictions select 'l1', 'run', timestamp '2026-01-01', i, 0.25 "
                "from range(4) r(i)")
    con.execute("delete from ml.session_start_predictions where listener_id = 'l1'")
    con.execute("insert into ml.session_start_predictions select 'l1', 'run', timestamp '2026-01-01', i, 0.1 "
                "from range(24) r(i)")


def test_tables_rewritten_every_run_do_not_keep_the_rows_they_replaced(tmp_path):
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    ensure_schema(con)
    for run in range(REWRITES):
        _rewrite(con, run)
        con.execute("checkpoint")
    # with a primary key DuckDB kept every replaced row: 40 x 500 mood rows stored for 500 alive
    assert _sizes(con) == {"track_moods": (500, 500), "next_mood_predictions": (4, 4),
                           "session_start_predictions": (24, 24)}
    con.close()


def test_a_warehouse_with_the_old_keys_is_rebuilt_without_them_and_keeps_its_rows(tmp_path):
    path = tmp_path / "old.duckdb"
    con = duckdb.connect(str(path))
    con.execute("create schema ml")
    con.execute("create table ml.track_moods (track_id varchar primary key, mood_cluster_id integer not null, "
                "mood_run_id varchar not null)")
    con.execute("create table ml.next_mood_predictions (listener_id varchar not null, run_id varchar not null, "
                "as_of timestamp not null, mood_cluster_id integer not null, probability double not null, "
                "primary key (listener_id, mood_cluster_id))")
    con.execute("create table ml.session_start_predictions (listener_id varchar not null, run_id varchar not null, "
                "hour_start_local timestamp not null, local_hour integer not null, probability double not null, "
                "primary key (listener_id, local_hour))")
    con.execute("create schema staging")
    con.execute("create view staging.stg_ml__track_moods as select * from ml.track_moods")  # as dbt made it
    for run in range(REWRITES):
        _rewrite(con, run)
    con.execute("checkpoint")
    assert _sizes(con)["track_moods"] == (REWRITES * 500, 500)
    alive = {table: con.execute(f"select * from ml.{table} order by all").fetchall() for table in KEYS_DROPPED}
    con.close()

    con = duckdb.connect(str(path))
    ensure_schema(con)
    ensure_schema(con)  # once done, nothing left to do
    assert {table: con.execute(f"select * from ml.{table} order by all").fetchall() for table in KEYS_DROPPED} == alive
    assert con.execute("select count(*) from duckdb_constraints() where schema_name = 'ml' and table_name in "
                       "('track_moods', 'next_mood_predictions', 'session_start_predictions') "
                       "and constraint_type = 'PRIMARY KEY'").fetchone()[0] == 0
    assert _sizes(con)["track_moods"] == (500, 500)
    assert con.execute("select count(*) from staging.stg_ml__track_moods").fetchone()[0] == 500
    with pytest.raises(duckdb.ConstraintException):  # the columns keep their not null
        con.execute("insert into ml.track_moods values ('t', null, 'run')")
    con.close()
