"""A refresh with nothing new builds nothing, scores nothing and rewrites no export; one with new
plays builds them, as before (warehouse/build_inputs.py)."""

import json
from datetime import timedelta

import duckdb

from ingest.demo.files import write_data_download, write_new_plays
from ingest.demo.rules import DEFAULT_END
from orchestration.cli import main
from warehouse.settings import load_settings


def test_a_refresh_with_nothing_new_skips_the_build_and_one_with_new_plays_builds_them(env, dbt_manifest,
                                                                                      monkeypatch, capsys, caplog):
    for name, value in (("SPOTIFY_BRAIN_AUDIO_FEATURES", "none"), ("SPOTIFY_BRAIN_INGEST_SOURCE", "none"),
                        ("SPOTIFY_BRAIN_LISTENER_ID", "me")):
        monkeypatch.setenv(name, value)
    settings = load_settings()
    write_data_download(env / "export", 600)
    assert main(["import", str(env / "export"), "--listener", "me", "--timezone", "UTC"]) == 0
    assert main(["run", "--job", "full_retrain"]) == 0
    export = settings.export_path
    written = export.stat().st_mtime_ns
    capsys.readouterr()

    assert main(["run", "--job", "refresh"]) == 0
    out = "".join(capsys.readouterr())
    assert "nothing new since the last build" in out and "Skipping step moods" in out
    # Dagster's warning for each check the skipped step did not evaluate reads like a fault: not shown
    assert not [r for r in caplog.records if "emitted no result" in r.getMessage()]
    assert "listener_refresh" not in out  # no listener's predictions or export are redone
    assert export.stat().st_mtime_ns == written
    assert json.loads((settings.data_dir / "last_dbt_build.json").read_text())["skipped"] is True

    write_new_plays(env / "new", 20, DEFAULT_END + timedelta(days=2))
    assert main(["import", str(env / "new"), "--listener", "me"]) == 0
    con = duckdb.connect(str(settings.warehouse), read_only=True)
    latest = con.execute("select max(played_at) from marts.fct_plays").fetchone()[0]
    con.close()
    capsys.readouterr()
    assert main(["run", "--job", "refresh"]) == 0
    out = "".join(capsys.readouterr())
    assert "nothing new since the last build" not in out and export.stat().st_mtime_ns != written
    # the terminal says what dbt built, not dagster-dbt's translation of the selection (one line
    # listing every model)
    assert "dbt_core_models: dbt: " in out and "models success" in out
    assert "subsetted execution" not in out and "DBT_INDIRECT_SELECTION" not in out
    assert "  enrichment: enrichment:" not in out and "  enrichment: 0 tracks resolved" in out
    assert "stopped early" not in out  # no Spotify app: the usual path
    assert json.loads((settings.data_dir / "last_dbt_build.json").read_text())["skipped"] is False
    con = duckdb.connect(str(settings.warehouse), read_only=True)
    assert con.execute("select max(played_at) > ? from marts.fct_plays", [latest]).fetchone() == (True,)
    con.close()


def _imported_and_retrained(env, monkeypatch):
    for name, value in (("SPOTIFY_BRAIN_AUDIO_FEATURES", "none"), ("SPOTIFY_BRAIN_INGEST_SOURCE", "none"),
                        ("SPOTIFY_BRAIN_LISTENER_ID", "me")):
        monkeypatch.setenv(name, value)
    write_data_download(env / "export", 600)
    assert main(["import", str(env / "export"), "--listener", "me", "--timezone", "UTC"]) == 0
    assert main(["run", "--job", "full_retrain"]) == 0
    return load_settings()


def _new_plays(env, days: int) -> None:
    write_new_plays(env / f"new_{days}", 20, DEFAULT_END + timedelta(days=days))
    assert main(["import", str(env / f"new_{days}"), "--listener", "me"]) == 0


def test_a_refresh_creates_no_view_again_but_one_whose_sql_changed_or_that_is_missing(env, dbt_manifest,
                                                                                     monkeypatch, capsys):
    settings = _imported_and_retrained(env, monkeypatch)
    # a comment on a view is gone once dbt creates it again
    with duckdb.connect(str(settings.warehouse)) as con:
        for view in ("staging.stg_spotify__plays", "staging.stg_spotify__tracks"):
            con.execute(f"comment on view {view} is 'as created'")
    _new_plays(env, 2)
    capsys.readouterr()
    assert main(["run", "--job", "refresh"]) == 0
    assert "created again" not in "".join(capsys.readouterr())
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        assert con.execute("select count(*) from duckdb_views() where comment = 'as created'").fetchone() == (2,)
        assert con.execute("select max(played_at) > ? from marts.fct_plays", [DEFAULT_END]).fetchone() == (True,)

    # an upgrade changed one view's SQL; another view is gone
    record = settings.data_dir / "built_views.json"
    record.write_text(json.dumps(json.loads(record.read_text()) | {"stg_spotify__tracks": "an older version"}))
    with duckdb.connect(str(settings.warehouse)) as con:
        con.execute("drop view staging.stg_spotify__listeners")
    _new_plays(env, 4)
    capsys.readouterr()
    assert main(["run", "--job", "refresh"]) == 0
    out = "".join(capsys.readouterr())
    assert "the views stg_spotify__listeners, stg_spotify__tracks are created again first" in out
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        comments = dict(con.execute("select view_name, comment from duckdb_views() where schema_name = 'staging' "
                                    "and view_name in ('stg_spotify__plays', 'stg_spotify__tracks', "
                                    "'stg_spotify__listeners')").fetchall())
    assert comments == {"stg_spotify__plays": "as created", "stg_spotify__tracks": None, "stg_spotify__listeners": None}
    assert json.loads(record.read_text())["stg_spotify__tracks"] != "an older version"


def test_a_build_that_stopped_halfway_is_built_whole_by_the_next(env, dbt_manifest, monkeypatch, capsys):
    """A build that stops between two incremental models (killed, or a model failed) leaves the
    first appended and the second not; the next build must not carry that on."""
    settings = _imported_and_retrained(env, monkeypatch)
    with duckdb.connect(str(settings.warehouse)) as con:  # sessions can no longer be appended
        con.execute("alter table marts.fct_sessions alter ms_played type utinyint using 0")
    _new_plays(env, 2)
    capsys.readouterr()
    assert main(["run", "--job", "refresh"]) == 1
    assert "fct_sessions" in "".join(capsys.readouterr())
    with duckdb.connect(str(settings.warehouse)) as con:
        con.execute("alter table marts.fct_sessions alter ms_played type bigint")
        assert con.execute("select count(*) from marts.fct_plays where session_id not in "
                           "(select session_id from marts.fct_sessions)").fetchone()[0] > 0  # what the stop left
    _new_plays(env, 4)
    capsys.readouterr()
    assert main(["run", "--job", "refresh"]) == 0
    assert "the last build of this step did not finish" in "".join(capsys.readouterr())
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        assert con.execute("select count(*) from marts.fct_plays where session_id not in "
                           "(select session_id from marts.fct_sessions)").fetchone() == (0,)
        assert con.execute("select (select sum(ms_played) from marts.fct_sessions) = "
                           "(select sum(ms_played) from marts.fct_plays)").fetchone() == (True,)
