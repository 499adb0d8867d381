"""Incremental dbt builds give exactly the tables a full refresh gives, whatever the arrival order."""

from __future__ import annotations

import random
import shutil
from datetime import timedelta

import duckdb

from helpers import dbt
from ingest.demo import generate_demo_batches
from warehouse.loaders import RawBatch, load_batch
from warehouse.schema import ensure_schema
from warehouse.settings import load_settings

# the incremental models and a sort key for comparing them
TABLES = {
    "intermediate.int_plays__deduplicated": "listener_id, track_id, played_at",
    "intermediate.int_plays_sessionized": "listener_id, track_id, played_at",
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
