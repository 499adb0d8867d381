"""The Spotify source against a fake Spotify on 127.0.0.1: the real spotipy client, no network."""

from __future__ import annotations

import json
import os
import random
import stat

import duckdb
import pytest

from fake_spotify import CLIENT_ID, CLIENT_SECRET, FakeSpotify, minutes_ago
from ingest.spotify import source as spotify_source
from ingest.enrichment.run import enrich
from ingest.results import IngestError
from ingest.spotify.source import ingest_from_spotify
from warehouse.schema import ensure_schema
from warehouse.settings import load_settings


def track(n: int) -> str:
    return f"{n:022d}".replace("0", "T")[:22]


@pytest.fixture
def fake():
    server = FakeSpotify()
    yield server
    server.close()


@pytest.fixture
def spotify_env(env, fake, monkeypatch):
    monkeypatch.setenv("SPOTIFY_BRAIN_INGEST_SOURCE", "spotify")
    monkeypatch.setenv("SPOTIFY_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("SPOTIFY_CLIENT_SECRET", CLIENT_SECRET)
    monkeypatch.setenv("SPOTIFY_REFRESH_TOKEN", "rt-initial")
    monkeypatch.setenv("SPOTIFY_API_BASE_URL", f"{fake.url}/v1")
    monkeypatch.setenv("SPOTIFY_ACCOUNTS_BASE_URL", fake.url)
    monkeypatch.setenv("RECCOBEATS_API_BASE_URL", f"{fake.url}/reccobeats")
    monkeypatch.setenv("SPOTIFY_BRAIN_API_TIMEOUT", "1")
    monkeypatch.setenv("SPOTIFY_BRAIN_MAX_RETRY_AFTER", "5")
    monkeypatch.setenv("SPOTIFY_BRAIN_TOKEN_FILE", str(env / "tokens.json"))
    return env


class Waits(list):
    """Stands in for time.sleep: records how long the client would have waited."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def run(waits: Waits | None = None):
    """One scheduled run's first two steps, as the assets do them: pull new plays, then enrich
    (the ingest's result is returned; the enrichment's as its `enriched`)."""
    settings = load_settings()
    settings.warehouse.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(settings.warehouse))
    waits = Waits() if waits is None else waits
    try:
        ensure_schema(con)
        try:
            result = ingest_from_spotify(con, settings, sleep=waits)
        finally:
            result_enriched = enrich(con, settings, sleep=waits)
        result.enriched = result_enriched
        return result
    finally:
        con.close()


def stored(sql: str):
    con = duckdb.connect(str(load_settings().warehouse), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def plays_per_key() -> dict:
    return dict(stored("select track_id || '@' || epoch_ms(played_at), count(*) from raw.plays group by 1"))


def offered(fake: FakeSpotify) -> set[str]:
    from ingest.spotify.recently_played import played_at_ms
    return {f"{i['track']['id']}@{played_at_ms(i)}" for i in fake.history
            if isinstance(i, dict) and isinstance(i.get("track"), dict) and played_at_ms(i)}


def test_pages_until_nothing_is_left_then_only_newer_plays(spotify_env, fake):
    fake.window = 500
    for n in range(120):
        fake.play(track(n % 7), minutes_ago(600 - n * 4), artist_id="R" * 22)
    first = run()
    assert plays_per_key() == {key: 1 for key in offered(fake)} and len(offered(fake)) == 120
    fake.play(track(3), minutes_ago(1))
    second = run()
    assert (first.plays_inserted, second.plays_inserted) == (120, 1)
    runs = stored("select outcome, records_read, plays_inserted, cursor_before, cursor_after, message "
                  "from raw.ingest_runs where source = 'spotify_api' order by started_at")
    assert runs[0][:3] == ("success", 120, 120) and runs[0][3] is None and "4 page(s)" in runs[0][5]
    assert runs[1][1:3] == (1, 1) and runs[1][3] == runs[0][4] < runs[1][4]
    (track_name, album, image, artists), = stored(
        f"select track_name, album_name, album_image_url, artist_ids from raw.tracks where track_id = '{track(3)}'")
    assert album and image.startswith("https://") and artists == ["R" * 22]
    assert stored("select genres from raw.artists where artist_id = 'RRRRRRRRRRRRRRRRRRRRRR'") == [(["indie"],)]


def test_faults_are_waited_out_retried_and_recorded(spotify_env, fake):
    for n in range(30):
        fake.play(track(n), minutes_ago(300 - n * 5))
    fake.fail_next("/v1/me/player", 429, {"Retry-After": "2"})
    fake.fail_next("/v1/me/player", 500)
    fake.fail_next("/api/token", 503)
    waits = Waits()
    run(waits)
    assert 2.0 in waits and len(waits) == 3
    fake.fail_next("/v1/me/player", 401)  # the access token died early: refresh once, go on
    for n in range(5):
        fake.play(track(40 + n), minutes_ago(4 - n))
    run()
    assert plays_per_key() == {key: 1 for key in offered(fake)}
    messages = " ".join(m for (m,) in stored("select message from raw.ingest_runs order by started_at"))
    for fault in ("429, waited Retry-After 2s", "HTTP 500, retried", "503", "401, refreshed the access token"):
        assert fault in messages


def test_a_long_retry_after_stops_cleanly_and_the_next_run_catches_up(spotify_env, fake):
    for n in range(10):
        fake.play(track(n), minutes_ago(100 - n))
    fake.fail_next("/v1/me/player", 429, {"Retry-After": "3600"})
    waits = Waits()
    result = run(waits)
    assert waits == [] and result.plays_inserted == 0
    assert stored("select outcome, cursor_before, cursor_after from raw.ingest_runs") == [("rate_limited", None, None)]
    assert "3600" in stored("select message from raw.ingest_runs")[0][0]
    run()
    assert plays_per_key() == {key: 1 for key in offered(fake)}


def test_server_errors_beyond_the_retries_fail_without_losing_anything(spotify_env, fake):
    fake.play(track(1), minutes_ago(10))
    fake.fail_next("/v1/me/player", 502, times=4)
    with pytest.raises(IngestError, match="HTTP 502 after 4 attempts"):
        run()
    assert stored("select count(*) from raw.plays") == [(0,)]
    assert stored("select outcome from raw.ingest_runs") == [("unavailable",)]
    run()
    assert stored("select count(*) from raw.plays") == [(1,)]


def test_timeouts_are_retried(spotify_env, fake):
    fake.play(track(1), minutes_ago(10))
    fake.fail_next("/v1/me/player", 200, delay=1.5)  # longer than SPOTIFY_BRAIN_API_TIMEOUT=1
    run()
    assert stored("select count(*) from raw.plays") == [(1,)]
    assert "ReadTimeout, retried" in stored("select message from raw.ingest_runs")[0][0]


def test_offline_the_run_stops_at_the_first_call_without_sleeping_through_retries(spotify_env, fake, monkeypatch):
    """No DNS (as urllib3 meets it offline): nothing to retry, the next run goes on from the cursor."""
    import socket

    from helpers import no_dns

    fake.play(track(1), minutes_ago(10))
    online = socket.getaddrinfo
    monkeypatch.setattr(socket, "getaddrinfo", no_dns)
    waits = Waits()
    with pytest.raises(IngestError, match="did not resolve"):
        run(waits)
    assert waits == [] and stored("select count(*) from raw.plays") == [(0,)]
    assert stored("select outcome from raw.ingest_runs") == [("unavailable",)]
    monkeypatch.setattr(socket, "getaddrinfo", online)  # back online
    run()
    assert stored("select count(*) from raw.plays") == [(1,)]


def test_invalid_grant_says_what_happened_and_what_to_do(spotify_env, fake, capsys):
    fake.play(track(1), minutes_ago(10))
    fake.revoke_refresh_tokens()
    with pytest.raises(IngestError) as failure:
        run()
    message = str(failure.value)
    assert "invalid_grant" in message and "six months" in message and "spotify-brain auth" in message
    assert "rt-initial" not in message + capsys.readouterr().err
    assert stored("select outcome from raw.ingest_runs") == [("auth_expired",)]


def test_a_rotated_refresh_token_is_kept_and_used_never_shown(spotify_env, fake, capsys):
    stale = spotify_env / "tokens.tmp"  # a temp file an earlier crash left, readable by all
    stale.write_text("{}")
    stale.chmod(0o644)
    fake.rotate_on_refresh = True
    fake.play(track(1), minutes_ago(10))
    run()
    saved = json.loads((spotify_env / "tokens.json").read_text())
    new_token = saved["demo"]["refresh_token"]
    assert new_token.startswith("rt-rotated") and "rt-initial" not in fake.refresh_tokens
    assert stat.S_IMODE(os.stat(spotify_env / "tokens.json").st_mode) == 0o600
    fake.play(track(2), minutes_ago(5))
    result = run()  # the configured (now revoked) token is replaced by the kept one
    assert result.plays_inserted == 1 and result.token_rotated == ["demo"]
    dump = str(stored("select * from raw.ingest_runs")) + capsys.readouterr().out
    assert new_token not in dump and "rt-initial" not in dump


def test_malformed_items_are_rejected_with_the_reason_and_the_rest_loads(spotify_env, fake):
    fake.play(track(1), minutes_ago(30))
    fake.add_raw_item({"played_at": minutes_ago(20).strftime("%Y-%m-%dT%H:%M:%SZ"), "track": None})
    fake.add_raw_item({"played_at": minutes_ago(19).strftime("%Y-%m-%dT%H:%M:%SZ"),
                       "track": {"id": "not-an-id", "duration_ms": 1000}})
    fake.add_raw_item({"played_at": "yesterday", "track": {"id": track(5), "duration_ms": 1000}})
    fake.play(track(2), minutes_ago(10))
    run()
    assert set(plays_per_key()) == {key for key in offered(fake) if not key.startswith("not-an-id")}
    reasons = sorted(r for (r,) in stored("select reason from raw.rejected_records"))
    assert reasons[0] == "item has no track object" and "not a Spotify id" in reasons[2]
    assert "played_at is not an ISO 8601 time" in reasons[1]
    assert stored("select records_read, plays_inserted, records_rejected from raw.ingest_runs") == [(5, 2, 3)]


def test_a_crash_between_fetch_and_load_loses_and_duplicates_nothing(spotify_env, fake, monkeypatch):
    for n in range(8):
        fake.play(track(n), minutes_ago(80 - n))

    real_load, crashes = spotify_source.load_batch, [True]

    def load_or_crash(con, batch):
        if crashes.pop() if crashes else False:
            raise KeyboardInterrupt("killed between fetch and load")
        return real_load(con, batch)

    monkeypatch.setattr(spotify_source, "load_batch", load_or_crash)
    with pytest.raises(KeyboardInterrupt):
        run()
    assert stored("select count(*) from raw.plays") == [(0,)]
    fake.play(track(9), minutes_ago(1))
    run()
    assert plays_per_key() == {key: 1 for key in offered(fake)}


def test_audio_features_from_reccobeats_and_unknown_tracks_are_counted(spotify_env, fake):
    fake.play(track(1), minutes_ago(30))
    fake.play(track(2), minutes_ago(20))
    fake.features[track(1)] = {"danceability": 0.5, "energy": 0.8, "valence": 0.3, "acousticness": 0.1,
                               "instrumentalness": 0.0, "speechiness": 0.05, "liveness": 0.1, "loudness": -6.0,
                               "tempo": 120.0}
    result = run()
    assert stored("select track_id, energy, provider from raw.audio_features") == [(track(1), 0.8, "reccobeats")]
    assert result.enriched.tracks_without_features == 1
    assert stored("select track_id, found from raw.feature_lookups order by 1") == [(track(1), True), (track(2), False)]
    artist_loaded = stored("select loaded_at from raw.artists")
    run()  # nothing new: the artist is not fetched again, the unknown track not asked again
    assert stored("select loaded_at from raw.artists") == artist_loaded
    assert stored("select count(*) from raw.feature_lookups") == [(2,)]


def test_audio_features_from_a_file(spotify_env, fake, monkeypatch):
    fake.play(track(1), minutes_ago(30))
    csv = spotify_env / "features.csv"
    csv.write_text(f"track_id,energy,valence,danceability,acousticness,instrumentalness,tempo,extra\n"
                   f"spotify:track:{track(1)},0.7,0.2,0.6,0.3,0.0,128,x\n")
    monkeypatch.setenv("SPOTIFY_BRAIN_AUDIO_FEATURES", "file")
    monkeypatch.setenv("SPOTIFY_BRAIN_AUDIO_FEATURES_FILE", str(csv))
    run()
    assert stored("select track_id, tempo, provider from raw.audio_features") == [(track(1), 128.0, "file")]


def test_several_listeners_land_under_their_own_ids(spotify_env, fake, monkeypatch):
    fake.play(track(1), minutes_ago(30))
    fake.refresh_tokens.add("rt-sam")
    monkeypatch.setenv("SPOTIFY_REFRESH_TOKEN_SAM", "rt-sam")
    monkeypatch.setenv("SPOTIFY_BRAIN_LISTENERS", json.dumps(
        [{"listener_id": "sam", "display_name": "Sam", "timezone": "America/New_York",
          "refresh_token_env": "SPOTIFY_REFRESH_TOKEN_SAM"}]))
    run()
    assert stored("select listener_id, count(*) from raw.plays group by 1 order by 1") == [("demo", 1), ("sam", 1)]
    assert ("sam", "America/New_York") in stored("select listener_id, timezone from raw.listeners")


def test_many_half_hour_runs_with_faults_keep_every_play_exactly_once(spotify_env, fake):
    rng = random.Random(7)
    fake.window = 10_000
    minute = 60 * 24
    faults = [("/v1/me/player", 429, {"Retry-After": "1"}), ("/v1/me/player", 429, {"Retry-After": "999"}),
              ("/v1/me/player", 500, {}), ("/api/token", 500, {}), ("/v1/artists", 503, {})]
    for _ in range(24):
        for _ in range(rng.randint(0, 12)):
            minute -= rng.randint(1, 4)
            fake.play(track(rng.randint(0, 30)), minutes_ago(minute), artist_id=rng.choice("XYZ") * 22)
        if rng.random() < 0.5:
            prefix, status, headers = rng.choice(faults)
            fake.fail_next(prefix, status, headers)
        if rng.random() < 0.2:
            fake.fail_next("/v1/me/player", 401)
        run()
        minute -= 30
    run()
    assert plays_per_key() == {key: 1 for key in offered(fake)}
    outcomes = dict(stored("select outcome, count(*) from raw.ingest_runs group by 1"))
    assert outcomes.get("rate_limited", 0) >= 1 and outcomes["success"] >= 20


def test_auth_prints_the_refresh_token_from_the_pasted_redirect(spotify_env, fake, capsys, monkeypatch):
    from urllib.parse import parse_qs, urlparse

    from orchestration.cli import main

    def paste(prompt: str) -> str:
        url = next(word for word in prompt.split() if word.startswith(fake.url + "/authorize"))
        query = parse_qs(urlparse(url).query)
        assert query["redirect_uri"] == ["http://127.0.0.1:8888/callback"]
        assert query["scope"] == ["user-read-recently-played"]
        return f"http://127.0.0.1:8888/callback?code=the-code&state={query['state'][0]}"

    monkeypatch.setattr("builtins.input", paste)
    assert main(["auth"]) == 0
    assert "SPOTIFY_REFRESH_TOKEN=rt-from-code" in capsys.readouterr().out
    monkeypatch.setattr("builtins.input", lambda prompt: "http://127.0.0.1:8888/callback?code=x&state=forged")
    assert main(["auth"]) == 1
    assert "state differs" in capsys.readouterr().err


def test_ingest_command_pulls_and_reports_counts(spotify_env, fake, capsys):
    from orchestration.cli import main

    fake.play(track(1), minutes_ago(10))
    assert main(["ingest"]) == 0
    out = capsys.readouterr().out
    assert "source spotify" in out and "demo: 1 read, 1 inserted, 0 duplicate, 0 rejected" in out
    fake.revoke_refresh_tokens()
    assert main(["ingest"]) == 1
    assert "invalid_grant" in capsys.readouterr().err


def test_the_ingest_asset_follows_the_source_setting_and_says_so(spotify_env, fake):
    import dagster as dg

    from orchestration.assets.ingest import ingest_plays

    fake.play(track(1), minutes_ago(10))
    fake.fail_next("/v1/me/player", 500)
    result = dg.materialize([ingest_plays])
    plays = next(m for m in result.asset_materializations_for_node("ingest") if m.asset_key.path == ["raw", "plays"])
    assert plays.metadata["source"].value == "spotify" and plays.metadata["plays_inserted"].value == 1
    assert any("HTTP 500, retried" in event for event in plays.metadata["events"].value)


def test_an_imported_play_newer_than_the_api_ones_does_not_move_the_api_cursor(spotify_env, fake):
    from warehouse.loaders import RawBatch, load_batch

    fake.play(track(1), minutes_ago(120))
    run()
    settings = load_settings()
    con = duckdb.connect(str(settings.warehouse))
    # an export record dated 10 hours ahead (within the clock's slack), and one dated 2099 (refused)
    report = load_batch(con, RawBatch(source="extended_history", listener_id="demo", plays=[
        {"listener_id": "demo", "track_id": track(7), "played_at": minutes_ago(-600).replace(tzinfo=None),
         "ms_played": 1000},
        {"listener_id": "demo", "track_id": track(8), "played_at": minutes_ago(0).replace(year=2099, tzinfo=None),
         "ms_played": 1000}]))
    con.close()
    assert report.rejected_by_reason == {"played_at in the future": 1}
    fake.play(track(2), minutes_ago(30))
    assert run().plays_inserted == 1  # the API's own newest play is the cursor


def test_a_refused_listener_is_recorded_with_what_to_do_and_the_others_go_on(spotify_env, fake, monkeypatch, capsys):
    from orchestration.cli import main

    fake.play(track(1), minutes_ago(30))
    fake.refresh_tokens.add("rt-sam")
    monkeypatch.setenv("SPOTIFY_REFRESH_TOKEN_SAM", "rt-sam")
    monkeypatch.setenv("SPOTIFY_BRAIN_LISTENERS", json.dumps(
        [{"listener_id": "sam", "timezone": "America/New_York", "refresh_token_env": "SPOTIFY_REFRESH_TOKEN_SAM"}]))
    fake.fail_next("/v1/me/player", 403, body={"error": {"status": 403,
                                                         "message": "User not registered in the Developer Dashboard"}})
    assert main(["ingest"]) == 1
    err = capsys.readouterr().err
    assert "demo: HTTP 403" in err and "User Management" in err and "Traceback" not in err
    assert stored("select listener_id, outcome from raw.ingest_runs order by listener_id") == [
        ("demo", "refused"), ("sam", "success")]
    assert stored("select count(*) from raw.plays where listener_id = 'sam'") == [(1,)]
