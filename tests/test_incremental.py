"""Incremental dbt builds give exactly the tables a full refresh gives, whatever the arrival order."""

from __future__ import annotations

import random
import shutil
from datetime import timedelta

import duckdb
import pytest

from helpers import dbt
from ingest.demo.generator import generate_demo_batches
from warehouse.loaders import RawBatch, load_batch
from warehouse.schema import ensure_schema
from warehouse.settings import load_settings

# the incremental models and a sort key for comparing them
TABLES = {
    "intermediate.int_plays__deduplicated": "listener_id, track_id, played_at",
    "intermediate.int_plays__sessionized": "listener_id, track_id, played_at",
    "marts.fct_plays": "play_id",
    "marts.fct_sessions": "session_id",
    "marts.fct_listening_hours": "listener_id, hour_start_utc",
    "marts.ml_session_start_training": "listener_id, hour_start_utc",
}


def snapshot(warehouse) -> dict:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        # ingest_run_id and loaded_at say which batch a row came from, not what it means
        return {table: con.execute(f"select * exclude (ingest_run_id, loaded_at) from {table} order by {key}"
                                   if table.startswith("intermediate") else
                                   f"select * from {table} order by {key}").fetchall()
                for table, key in TABLES.items()}
    finally:
        con.close()


def build(warehouse, *args: str, models: str = "+ml_session_start_training") -> None:
    result = dbt(warehouse, "run", "--select", models, *args)
    assert result.returncode == 0, result.stdout[-4000:]


def land(warehouse, **batch) -> None:
    con = duckdb.connect(str(warehouse))
    try:
        ensure_schema(con)
        load_batch(con, RawBatch(listener_id="me", **batch))
    finally:
        con.close()


def assert_same_as_full_refresh(warehouse, *args: str) -> dict:
    incremental = snapshot(warehouse)
    full = warehouse.with_name("full.duckdb")
    shutil.copy(warehouse, full)
    build(full, "--full-refresh", *args)
    assert snapshot(full) == incremental
    return incremental


@pytest.mark.slow
def test_batches_late_and_out_of_order_build_the_same_tables_as_a_full_refresh(env):
    warehouse = load_settings().warehouse
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    demo = generate_demo_batches("me", "Europe/Berlin", "Me", days=21)[0]
    plays = sorted(demo.plays, key=lambda p: p["played_at"])
    rng = random.Random(3)
    late = set(rng.sample(range(len(plays) // 2), 40))  # arrive after newer plays were built
    on_time = [p for i, p in enumerate(plays) if i not in late]
    # an account-data play known only by name, resolved when its track turns up later
    by_name = {"listener_id": "me", "track_id": "name:late-song", "played_at": plays[5]["played_at"] + timedelta(
        minutes=1), "ms_played": 150_000}
    unnamed = {"track_id": "name:late-song", "track_name": "Late Song", "artist_names": ["Late Band"]}
    named = {"track_id": "L" * 22, "track_name": "Late Song", "artist_names": ["Late Band"]}
    steps = [
        dict(source="demo", plays=on_time[: len(on_time) // 2], tracks=demo.tracks, listeners=demo.listeners),
        dict(source="account_data", plays=[by_name], tracks=[unnamed]),
        dict(source="demo", plays=on_time[len(on_time) // 2:]),
        dict(source="demo", plays=[plays[i] for i in sorted(late)]),
        # the same plays again from another source, 2 s off: one play each, the better source kept
        dict(source="extended_history", plays=[dict(plays[i], played_at=plays[i]["played_at"] + timedelta(seconds=2))
                                               for i in range(0, 300, 7)]),
        dict(source="spotify_api", tracks=[named]),  # a track only: the early account-data play resolves
        dict(source="demo"),  # nothing new
    ]
    for number, step in enumerate(steps):
        land(warehouse, **step)
        # the training table is built only now and then (when models are retrained), as in the jobs
        build(warehouse, models="+fct_listening_hours" if number % 3 else "+ml_session_start_training")
    build(warehouse)
    assert_same_as_full_refresh(warehouse)
    # another session gap cuts every session anew
    gap = ("--vars", '{"session_gap_minutes": 45}')
    build(warehouse, *gap)
    incremental = assert_same_as_full_refresh(warehouse, *gap)
    played = {row[1] for row in incremental["marts.fct_plays"]}
    assert played == {"me"} and len(incremental["marts.fct_plays"]) == len(plays) + 1
    assert "L" * 22 in {row[2] for row in incremental["marts.fct_plays"]}  # the name resolved
    # the listener moves to New York: every local time is rebuilt in the new timezone
    land(warehouse, source="demo", listeners=[dict(demo.listeners[0], timezone="America/New_York")])
    build(warehouse, *gap)
    moved = assert_same_as_full_refresh(warehouse, *gap)
    offsets = {row[7] - row[5] for row in moved["marts.fct_plays"]}  # local_started_at - started_at
    assert offsets <= {timedelta(hours=-5), timedelta(hours=-4)}


PER_LISTENER = {
    "marts.genre_profiles": "listener_id, profile_kind, profile_key, genre",
    "marts.listening_drift": "listener_id, metric",
    "marts.ml_next_track_scoring": "listener_id",
    "marts.session_start_profile": "listener_id, local_hour",
    "marts.ml_session_start_scoring": "listener_id, hours_ahead",
}


def per_listener(warehouse) -> dict:
    """The per-listener marts, floats to 9 places (a sum in another row order differs in the last bit)."""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return {table: [tuple(round(v, 9) if isinstance(v, float) else v for v in row)
                        for row in con.execute(f"select * from {table} order by {key}").fetchall()]
                for table, key in PER_LISTENER.items()}
    finally:
        con.close()


def _moods(warehouse, run_id: str, trained_at: str) -> None:
    """A clustering run as the moods asset stores it: four clusters, every track in one."""
    con = duckdb.connect(str(warehouse))
    try:
        ensure_schema(con)
        con.execute("insert into ml.model_runs (run_id, model_name, trained_at) values (?, 'mood_clusters', ?)",
                    [run_id, trained_at])
        con.execute("insert into ml.mood_clusters select ?, c, 'mood ' || c, 1, .5, .5, .5, .5, .5, .5 "
                    "from range(4) t(c)", [run_id])
        con.execute("delete from ml.track_moods")
        con.execute("insert into ml.track_moods select track_id, hash(track_id || ?) % 4, ? from raw.tracks",
                    [run_id, run_id])
    finally:
        con.close()


@pytest.mark.slow  # about a minute: a household's full refresh beside its incremental one
def test_a_household_rebuilds_only_the_listeners_with_news_and_matches_a_full_refresh(env):
    warehouse = load_settings().warehouse
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    first, second = generate_demo_batches("a", "Europe/Berlin", "A", days=14, listeners=2)
    for batch in (first, second):
        cut = len(batch.plays) - 30
        land(warehouse, source="demo", plays=batch.plays[:cut], tracks=batch.tracks, artists=batch.artists,
             audio_features=batch.audio_features, listeners=batch.listeners)
    _moods(warehouse, "r1", "2026-01-01")
    everything = (
        "+genre_profiles +listening_drift +ml_next_track_scoring +ml_session_start_scoring +session_start_profile "
        "int_listeners__built")
    build(warehouse, models=everything)
    before = per_listener(warehouse)

    def rows(snapshot, listener):
        return {table: [r for r in found if r[0] == listener] for table, found in snapshot.items()}

    def reasons() -> dict:
        con = duckdb.connect(str(warehouse), read_only=True)
        try:
            return dict(con.execute("select * from intermediate.int_listeners__rebuild").fetchall())
        finally:
            con.close()

    # new plays for the second listener only: the first one's rows stay as they were
    land(warehouse, source="demo", plays=second.plays[-30:])
    build(warehouse, models=everything)
    assert reasons() == {"a-2": "new plays"}
    after = per_listener(warehouse)
    assert rows(after, "a") == rows(before, "a") and rows(after, "a-2") != rows(before, "a-2")
    full = warehouse.with_name("full.duckdb")
    shutil.copy(warehouse, full)
    build(full, "--full-refresh", models=everything)
    assert per_listener(full) == after

    # genres land for an artist only the first listener played: that listener is rebuilt
    con = duckdb.connect(str(warehouse))
    only_first = con.execute("""select artist_id from (
            select unnest(t.artist_ids) as artist_id, p.listener_id
            from raw.plays p join raw.tracks t using (track_id))
        group by artist_id having bool_and(listener_id = 'a') order by artist_id limit 1""").fetchone()[0]
    con.execute("update raw.artists set genres = ['brand new genre'], loaded_at = timezone('UTC', now()) "
                "where artist_id = ?", [only_first])
    con.close()
    build(warehouse, models=everything)
    assert reasons() == {"a": "new audio features or genres"}
    assert "brand new genre" in {row[3] for row in per_listener(warehouse)["marts.genre_profiles"] if row[0] == "a"}

    # a new clustering changes every listener's moods: everyone is rebuilt
    _moods(warehouse, "r2", "2026-02-01")
    build(warehouse, models=everything)
    assert reasons() == {"a": "new moods", "a-2": "new moods"}
    shutil.copy(warehouse, full)
    build(full, "--full-refresh", models=everything)
    assert per_listener(full) == per_listener(warehouse)


@pytest.mark.slow
def test_tables_built_by_an_older_version_are_rebuilt_whole_not_left_with_nulls(env, dbt_manifest):
    """An upgrade adds columns to incremental tables: the next build that meets such a table
    rebuilds in full (once), so no kept row is null in a new column and nothing is lost."""
    from orchestration.assets.dbt import _manifest
    from orchestration.cli import main
    from orchestration.dbt_runner import outdated_tables

    assert main(["run"]) == 0
    settings = load_settings()
    con = duckdb.connect(str(settings.warehouse))
    rows = con.execute("select count(*) from marts.ml_session_start_training").fetchone()[0]
    con.execute("alter table marts.ml_session_start_training drop column minutes_since_last_play")
    con.execute("alter table marts.ml_next_track_scoring drop column session_start_hour")
    names = {"ml_session_start_training", "ml_next_track_scoring", "fct_plays"}
    assert outdated_tables(con, _manifest(), names) == {
        "ml_session_start_training": ["minutes_since_last_play"], "ml_next_track_scoring": ["session_start_hour"]}
    con.close()
    assert main(["run"]) == 0
    con = duckdb.connect(str(settings.warehouse), read_only=True)
    assert outdated_tables(con, _manifest(), names) == {}
    assert con.execute("select count(*), count(minutes_since_last_play) from marts.ml_session_start_training"
                       ).fetchone() == (rows, rows)
    assert con.execute("select count(session_start_hour) from marts.ml_next_track_scoring").fetchone()[0] == 1
