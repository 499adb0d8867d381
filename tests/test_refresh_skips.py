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
                                                                                      monkeypatch, capsys):
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
    assert json.loads((settings.data_dir / "last_dbt_build.json").read_text())["skipped"] is False
    con = duckdb.connect(str(settings.warehouse), read_only=True)
    assert con.execute("select max(played_at) > ? from marts.fct_plays", [latest]).fetchone() == (True,)
    con.close()
