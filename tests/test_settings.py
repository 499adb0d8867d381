from pathlib import Path

import pytest

from warehouse.settings import SettingsError, load_settings


def test_defaults_match_the_documented_names(env, monkeypatch):
    monkeypatch.delenv("SPOTIFY_BRAIN_WAREHOUSE")
    monkeypatch.delenv("SPOTIFY_BRAIN_EXPORT_PATH")
    for name in ("SPOTIFY_BRAIN_DATA_DIR", "SPOTIFY_BRAIN_INBOX", "SPOTIFY_BRAIN_EXPORT_PATH_PATTERN"):
        monkeypatch.delenv(name)
    settings = load_settings()
    # runtime data in one folder of its own, apart from the code folders
    assert settings.warehouse == Path("data/spotify_brain.duckdb")
    assert settings.export_path == Path("data/export/dashboard_data.json")
    assert settings.export_path_for("sam") == Path("data/export/listeners/sam/dashboard_data.json")
    assert (settings.data_dir, settings.inbox, settings.token_file) == (
        Path("data/artifacts"), Path("data/inbox"), Path("data/spotify_tokens.json"))
    assert settings.timezone == "Europe/Berlin"


def test_env_file_is_read(env, monkeypatch):
    (env / ".env").write_text("SPOTIFY_BRAIN_TIMEZONE=America/New_York\nSPOTIFY_BRAIN_LISTENER_ID=alice\n")
    settings = load_settings()
    assert (settings.timezone, settings.listener_id) == ("America/New_York", "alice")


def test_unknown_timezone_names_the_setting(env, monkeypatch):
    monkeypatch.setenv("SPOTIFY_BRAIN_TIMEZONE", "Mars/Olympus_Mons")
    with pytest.raises(SettingsError, match="SPOTIFY_BRAIN_TIMEZONE.*Mars/Olympus_Mons"):
        load_settings()


def test_duckdb_is_asked_once_per_zone_and_a_zone_it_lacks_is_refused_every_time(env, monkeypatch):
    import duckdb

    from warehouse import settings as module

    module._duckdb_knows.cache_clear()
    asked = []
    real_connect = duckdb.connect
    monkeypatch.setattr(duckdb, "connect", lambda *a, **k: asked.append(a) or real_connect(*a, **k))
    for _ in range(3):  # a run loads its settings about ten times
        load_settings()
    assert len(asked) == 1
    monkeypatch.setenv("SPOTIFY_BRAIN_TIMEZONE", "posix/Europe/Berlin")  # Python knows it, DuckDB does not
    for _ in range(2):
        with pytest.raises(SettingsError, match="not one DuckDB knows"):
            load_settings()


def test_unwritable_warehouse_path_names_the_setting(env, monkeypatch):
    blocker = env / "not-a-folder"
    blocker.write_text("a file where a folder should be")
    monkeypatch.setenv("SPOTIFY_BRAIN_WAREHOUSE", str(blocker / "brain.duckdb"))
    with pytest.raises(SettingsError, match="SPOTIFY_BRAIN_WAREHOUSE"):
        load_settings()


def test_unknown_ingest_source_names_the_setting(env, monkeypatch):
    monkeypatch.setenv("SPOTIFY_BRAIN_INGEST_SOURCE", "itunes")
    with pytest.raises(SettingsError, match="SPOTIFY_BRAIN_INGEST_SOURCE"):
        load_settings()


def test_auto_source_uses_spotify_only_with_all_credentials_and_never_mixes_demo_plays_in(
        demo_warehouse, monkeypatch):
    import duckdb

    from ingest.sources import resolve_source

    monkeypatch.setenv("SPOTIFY_BRAIN_INGEST_SOURCE", "auto")
    monkeypatch.setenv("SPOTIFY_CLIENT_ID", "id")
    monkeypatch.setenv("SPOTIFY_CLIENT_SECRET", "secret")
    con = duckdb.connect(str(demo_warehouse))
    assert resolve_source(con, load_settings()) == "demo"  # only demo plays so far
    con.execute("update raw.plays set source = 'extended_history' where track_id in "
                "(select track_id from raw.plays limit 1)")
    assert resolve_source(con, load_settings()) == "none"  # a real history landed: no more demo plays
    monkeypatch.setenv("SPOTIFY_REFRESH_TOKEN", "token")
    assert resolve_source(con, load_settings()) == "spotify"


def test_secrets_are_not_shown(env, monkeypatch):
    monkeypatch.setenv("SPOTIFY_CLIENT_SECRET", "super-secret-value")
    settings = load_settings()
    assert "super-secret-value" not in repr(settings)
    assert "super-secret-value" not in str(settings.model_dump())


def test_the_example_env_file_is_a_valid_configuration(env):
    example = Path(__file__).parents[1] / ".env.example"
    (env / ".env").write_text(example.read_text())
    settings = load_settings()
    assert settings.audio_features == "reccobeats" and settings.extra_listeners == []
    assert settings.spotify_api_base_url == "https://api.spotify.com/v1"
    # every setting is listed, with its default
    from warehouse.settings import Settings

    listed = {line.split("=", 1)[0] for line in example.read_text().splitlines() if "=" in line and line[0] != "#"}
    assert {info.validation_alias.choices[0] for info in Settings.model_fields.values()} <= listed


def test_feature_file_provider_needs_its_file(env, monkeypatch):
    monkeypatch.setenv("SPOTIFY_BRAIN_AUDIO_FEATURES", "file")
    with pytest.raises(SettingsError, match="SPOTIFY_BRAIN_AUDIO_FEATURES_FILE"):
        load_settings()


def test_household_listeners_name_what_is_missing(env, monkeypatch):
    monkeypatch.setenv("SPOTIFY_BRAIN_LISTENERS", '[{"listener_id": "sam", "refresh_token_env": "TOKEN_SAM"}]')
    with pytest.raises(SettingsError, match=r"SPOTIFY_BRAIN_LISTENERS\[0\]: TOKEN_SAM"):
        load_settings().listeners()
    monkeypatch.setenv("SPOTIFY_BRAIN_LISTENERS", '[{"listener_id": "sam", "refresh_token_env": "T", "timezone": "X/Y"}]')
    monkeypatch.setenv("T", "secret-token")
    with pytest.raises(SettingsError, match="unknown IANA timezone 'X/Y'"):
        load_settings().listeners()
    monkeypatch.setenv("SPOTIFY_BRAIN_API_TIMEOUT", "-1")
    with pytest.raises(SettingsError, match="SPOTIFY_BRAIN_API_TIMEOUT"):
        load_settings()


def test_statistics_exclusions_reach_dbt_lower_cased_and_a_blank_entry_is_refused(env, monkeypatch):
    import json

    from orchestration.dbt_runner import dbt_vars

    monkeypatch.setenv("SPOTIFY_BRAIN_STATS_EXCLUDE_ARTISTS", '["White Noise Baby Sleep", "Tyler, The Creator"]')
    monkeypatch.setenv("SPOTIFY_BRAIN_STATS_MIN_PLAY_SECONDS", "30")
    passed = json.loads(dbt_vars(load_settings()))
    assert passed["stats_exclude_artists"] == ["white noise baby sleep", "tyler, the creator"]
    assert (passed["stats_exclude_tracks"], passed["stats_min_play_ms"]) == ([], 30_000)
    monkeypatch.setenv("SPOTIFY_BRAIN_STATS_EXCLUDE_TRACKS", '["  "]')
    with pytest.raises(SettingsError, match="SPOTIFY_BRAIN_STATS_EXCLUDE_TRACKS"):
        load_settings()
