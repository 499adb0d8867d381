"""`dbt build` from the repo root on a small demo warehouse: models, data tests and unit tests."""

import shutil
from pathlib import Path

import duckdb
import pytest

from conftest import isolate, land_small_demo
from helpers import dbt
from ingest.demo.generator import generate_demo_batches
from warehouse.loaders import load_batch
from warehouse.settings import load_settings


@pytest.fixture(scope="module")
def built_once(tmp_path_factory, dbt_manifest) -> Path:
    """The small demo warehouse, built once for the module (a build is most of each test's time)."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        isolate(monkeypatch, tmp_path_factory.mktemp("built"))
        warehouse = land_small_demo().resolve()
        result = dbt(warehouse, "build")
    assert result.returncode == 0, result.stdout[-4000:]
    return warehouse


@pytest.fixture
def built(env: Path, built_once: Path) -> Path:
    """The test's own copy of the built warehouse, where its settings put the warehouse."""
    warehouse = load_settings().warehouse
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(built_once, warehouse)
    return warehouse


def test_dbt_build_passes_and_fills_the_marts(built):
    con = duckdb.connect(str(built), read_only=True)
    plays, sessions = con.execute("select (select count(*) from marts.fct_plays), "
                                  "(select count(*) from marts.fct_sessions)").fetchone()
    raw = con.execute("select count(*) from raw.plays").fetchone()[0]
    assert plays == raw > 0 and 0 < sessions < plays
    # no play inside a session starts more than 30 minutes after the session's previous play ended
    assert con.execute("""
        select count(*) from (
          select started_at - lag(played_at) over (partition by session_id order by started_at) as gap
          from marts.fct_plays) where gap > interval 30 minutes""").fetchone()[0] == 0
    # the hourly grid is zero-filled: one row per UTC hour of the history
    hours, first, last = con.execute("select count(*), min(hour_start_utc), max(hour_start_utc) "
                                     "from marts.fct_listening_hours").fetchone()
    assert hours == (last - first).total_seconds() / 3600 + 1


def test_session_training_rows_do_not_change_when_the_future_is_removed(built, tmp_path):
    """Leakage: cut the history at a point in time, rebuild, and the rows before it are identical."""
    con = duckdb.connect(str(built))
    cutoff = con.execute("select min(played_at) + interval 30 days from raw.plays").fetchone()[0]
    query = ("select * exclude (same_hour_rate_4w), round(same_hour_rate_4w, 9) from marts.ml_session_start_training "
             "where hour_start_utc < ? - interval 1 hour order by hour_start_utc")
    before = con.execute(query, [cutoff]).fetchall()
    con.execute("delete from raw.plays where played_at >= ?", [cutoff])
    con.close()
    assert dbt(built, "run", "--select", "+ml_session_start_training").returncode == 0
    con = duckdb.connect(str(built), read_only=True)
    after = con.execute(query, [cutoff]).fetchall()
    # the grid now ends at the last remaining play; every hour it still has must be unchanged
    assert after and after == before[: len(after)]
    assert len(after) > len(before) - 48


def test_next_track_scoring_is_the_state_after_each_listeners_latest_play(demo_warehouse):
    """The scoring model reads only each listener's last three plays; it must match the state the
    full int_plays__mood_states gives the latest play."""
    con = duckdb.connect(str(demo_warehouse))
    for batch in generate_demo_batches("second", "America/New_York", "Second", days=5):
        load_batch(con, batch)
    con.execute("insert into ml.model_runs (run_id, model_name, trained_at) values ('r', 'mood_clusters', now())")
    con.execute("insert into ml.mood_clusters select 'r', c, 'mood ' || c, 1, .5, .5, .5, .5, .5, .5 from range(4) t(c)")
    con.execute("insert into ml.track_moods select track_id, hash(track_id) % 4, 'r' from raw.tracks")
    con.close()
    result = dbt(demo_warehouse, "build")
    assert result.returncode == 0, result.stdout[-4000:]
    con = duckdb.connect(str(demo_warehouse), read_only=True)
    scoring = con.execute("select listener_id, as_of, prev_mood_1, prev_mood_2, prev_mood_3, prev_valence, "
                          "prev2_valence, mood_changes_last_hour, plays_before_in_session "
                          "from marts.ml_next_track_scoring order by listener_id").fetchall()
    latest = con.execute("""
        select listener_id, played_at, state_mood_1, state_mood_2, state_mood_3, valence, state_valence_2,
               state_mood_changes_last_hour, position_in_session
        from intermediate.int_plays__mood_states
        qualify row_number() over (partition by listener_id order by started_at desc, played_at desc, track_id desc) = 1
        order by listener_id""").fetchall()
    assert scoring == latest and len(scoring) == 2
    assert all(row[3] is not None and row[4] is not None and row[6] is not None for row in scoring)


def test_impossible_dates_already_in_raw_do_not_stretch_the_hourly_grid(demo_warehouse):
    """Rows the loader would refuse today, landed before it did: staging leaves them out."""
    con = duckdb.connect(str(demo_warehouse))
    con.execute("""insert into raw.plays (listener_id, track_id, played_at, ms_played, source, ingest_run_id, loaded_at)
                   select 'demo', track_id, ts, 1000, 'extended_history', 'old', now()
                   from (select min(track_id) as track_id from raw.plays),
                        (values (timestamp '0001-01-01'), (timestamp '9999-12-31')) as t(ts)""")
    span = con.execute("select date_diff('hour', min(played_at), max(played_at)) from raw.plays "
                       "where played_at between '2006-01-01' and now()").fetchone()[0]
    con.close()
    result = dbt(demo_warehouse, "build", "--select", "+fct_listening_hours", "--indirect-selection", "cautious")
    assert result.returncode == 0, result.stdout[-3000:]
    con = duckdb.connect(str(demo_warehouse), read_only=True)
    assert con.execute("select count(*) from marts.fct_listening_hours").fetchone()[0] <= span + 2


def test_dbt_docs_document_every_model_and_every_column_the_export_reads(built):
    """`dbt docs generate` from the repository root, as a user runs it: every model and every
    column of the built warehouse has a description, above all those the export reads."""
    import json

    from orchestration.project import target_dir

    result = dbt(built, "docs", "generate")
    assert result.returncode == 0, result.stdout[-3000:]
    catalog = json.loads((target_dir() / "catalog.json").read_text())
    manifest = json.loads((target_dir() / "manifest.json").read_text())
    models = {uid: node for uid, node in manifest["nodes"].items() if node["resource_type"] == "model"}
    assert [node["name"] for node in models.values() if not node["description"].strip()] == []
    undocumented = [f"{models[uid]['name']}.{column}" for uid, table in catalog["nodes"].items() if uid in models
                    for column in table["columns"]
                    if not models[uid]["columns"].get(column.lower(), {}).get("description", "").strip()]
    assert undocumented == []
    export_reads = set(manifest["exposures"]["exposure.spotify_brain.dashboard_export"]["depends_on"]["nodes"])
    assert {"model.spotify_brain.fct_plays", "model.spotify_brain.stats_period_summary"} <= export_reads
    assert export_reads <= set(catalog["nodes"]) | set(catalog["sources"])  # built and in the docs
