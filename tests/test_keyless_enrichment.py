"""Enrichment with no Spotify app, against fakes of the keyless providers (tests/fake_providers.py):
Spotify ids for name-only plays, MusicBrainz genres and release years, album art, audio features
for the ids found; budgets, most played first, never asked twice, rate limits and an unreachable
provider said by name; then the export an export-only listener gets."""

import json

import duckdb
import pytest

from fake_providers import FakeProviders
from ingest.enrichment.run import enrich
from ingest.spotify_download.importer import import_download
from orchestration.cli import main
from warehouse.loaders import ensure_listener, forget_lookups
from warehouse.schema import ensure_schema
from warehouse.settings import load_settings

KNOWN = "1" * 22      # an extended-history track every provider knows
UNKNOWN = "2" * 22    # an extended-history track no provider knows
LINKED = "3" * 22     # the Spotify id ListenBrainz Labs finds for an account-data track
FEATURES = {"danceability": 0.6, "energy": 0.7, "valence": 0.4, "acousticness": 0.2, "instrumentalness": 0.0,
            "speechiness": 0.05, "liveness": 0.1, "loudness": -7.0, "tempo": 118.0}


def _extended(track_id: str, name: str, artist: str, ts: str, ms: int = 200_000) -> dict:
    return {"ts": ts, "ms_played": ms, "spotify_track_uri": f"spotify:track:{track_id}",
            "master_metadata_track_name": name, "master_metadata_album_artist_name": artist,
            "master_metadata_album_album_name": f"Album of {name}", "ip_addr": "192.0.2.3"}


def write_history(folder):
    """Extended history for two tracks and account data for three name-only ones (the most played
    first: Linked Song five times, Caa Song three, Nobody's Song once)."""
    folder.mkdir(parents=True, exist_ok=True)
    extended = [_extended(KNOWN, "Known Song", "Band A", f"2025-03-0{d}T20:00:00Z") for d in range(1, 5)]
    extended.append(_extended(UNKNOWN, "Unknown Song", "Band B", "2025-03-05T20:00:00Z"))
    (folder / "Streaming_History_Audio_2025_0.json").write_text(json.dumps(extended))
    account = [{"endTime": f"2025-04-0{d} 21:0{d}", "artistName": "Band C", "trackName": "Linked Song",
                "msPlayed": 180_000} for d in range(1, 6)]
    account += [{"endTime": f"2025-04-0{d} 22:00", "artistName": "Band D", "trackName": "Caa Song",
                 "msPlayed": 170_000} for d in range(1, 4)]
    account.append({"endTime": "2025-04-09 23:00", "artistName": "Nobody", "trackName": "Nobody's Song",
                    "msPlayed": 150_000})
    (folder / "StreamingHistory_music_0.json").write_text(json.dumps(account))
    return folder


@pytest.fixture
def providers():
    fake = FakeProviders()
    fake.knows_recording("Band A", "Known Song", 1, [("indie rock", 9), ("shoegaze", 4)], year=1994)
    fake.knows_recording("Band C", "Linked Song", 2, [("synth-pop", 3)], year=2019)
    fake.knows_recording("Band D", "Caa Song", 3, [], year=1977, recording_genres=["krautrock"])
    fake.spotify_ids[("band c", "linked song")] = LINKED
    fake.oembed[KNOWN] = "https://i.scdn.co/image/known"
    fake.oembed[LINKED] = "https://i.scdn.co/image/linked"
    fake.features[KNOWN] = FEATURES
    fake.features[LINKED] = FEATURES
    yield fake
    fake.close()


@pytest.fixture
def con(env, providers, monkeypatch):
    for name, value in providers.env().items():
        monkeypatch.setenv(name, value)
    con = duckdb.connect(str(env / "w.duckdb"))
    ensure_schema(con)
    ensure_listener(con, "me", "Me", "UTC", "test")
    import_download(con, write_history(env / "history"), "me")
    yield con
    con.close()


def _one(con, sql, params=()):
    return con.execute(sql, list(params)).fetchall()


def test_an_export_only_history_gets_ids_genres_years_art_and_features(con, providers):
    report = enrich(con, load_settings(), sleep=lambda s: None)
    assert not report.unreachable()
    # the account-data track Labs knew is linked to its Spotify id, which then gets features and art
    assert _one(con, "select track_id from raw.track_links") == [(LINKED,)]
    assert _one(con, "select track_id from raw.audio_features order by 1") == [(KNOWN,), (LINKED,)]
    images = dict(_one(con, "select track_id, album_image_url from raw.tracks where album_image_url is not null"))
    assert images[KNOWN] == "https://i.scdn.co/image/known" and images[LINKED] == "https://i.scdn.co/image/linked"
    # a name-only track ListenBrainz knows, with cover art: the Cover Art Archive's image of its release
    caa = [url for track, url in images.items() if track.startswith("name:")]
    assert caa == ["https://coverartarchive.org/release/00000000-0000-4000-8000-000000002003/900003-250.jpg"]
    # MusicBrainz genres per artist, with their votes; a tag that is no genre ("seen live") is left out
    assert _one(con, "select genre, votes from raw.artist_genres order by votes desc") == [
        ("indie rock", 9), ("shoegaze", 4), ("synth-pop", 3)]
    assert _one(con, "select release_year from raw.recordings order by 1") == [(1977,), (1994,), (2019,)]
    # every provider says what it did
    assert {name: (p.asked, p.found) for name, p in report.providers.items()} == {
        "ListenBrainz Labs": (3, 1), "ListenBrainz": (5, 3), "Spotify oEmbed": (3, 2), "ReccoBeats": (3, 2)}


def test_a_track_asked_once_is_not_asked_again_unless_the_user_retries(con, providers, capsys):
    enrich(con, load_settings(), sleep=lambda s: None)
    providers.requests.clear()
    again = enrich(con, load_settings(), sleep=lambda s: None)
    assert providers.requests == [] and sum(p.requests for p in again.providers.values()) == 0
    # ListenBrainz's "not found" answers only (the unknown track, Nobody's Song): asked again, nothing else
    assert forget_lookups(con, "listenbrainz") == 2
    enrich(con, load_settings(), sleep=lambda s: None)
    assert providers.requests == ["GET /listenbrainz/1/metadata/lookup/ Unknown Song",
                                  "GET /listenbrainz/1/metadata/lookup/ Nobody's Song"]


def test_most_played_first_within_the_budget_and_the_rest_next_run(con, providers, monkeypatch):
    monkeypatch.setenv("SPOTIFY_BRAIN_LOOKUPS_PER_RUN", "1")
    report = enrich(con, load_settings(), sleep=lambda s: None)
    assert report.providers["ListenBrainz"].requests == 1 and "the rest next run" in report.providers[
        "ListenBrainz"].stopped
    # the most played track first: Linked Song (five plays) was linked to its Spotify id and asked as that
    asked = [r for r in providers.requests if r.startswith("GET /listenbrainz")]
    assert asked == ["GET /listenbrainz/1/metadata/lookup/ Linked Song"]
    enrich(con, load_settings(), sleep=lambda s: None)
    assert [r for r in providers.requests if r.startswith("GET /listenbrainz")][1] == (
        "GET /listenbrainz/1/metadata/lookup/ Known Song")


def test_rate_limits_wait_within_the_cap_and_stop_beyond_it(con, providers, monkeypatch):
    waits = []
    providers.fail_next("/listenbrainz", 429, {"X-RateLimit-Reset-In": "2"})
    report = enrich(con, load_settings(), sleep=waits.append)
    assert 2.0 in waits and report.providers["ListenBrainz"].found == 3
    forget_lookups(con, None)
    con.execute("delete from raw.recordings")
    con.execute("delete from raw.metadata_lookups")
    monkeypatch.setenv("SPOTIFY_BRAIN_MAX_RETRY_AFTER", "5")
    providers.fail_next("/listenbrainz", 429, {"Retry-After": "3600"})
    stopped = enrich(con, load_settings(), sleep=waits.append)
    assert 3600.0 not in waits
    assert "429" in stopped.providers["ListenBrainz"].stopped and not stopped.providers["ListenBrainz"].unreachable
    assert _one(con, "select count(*) from raw.recordings") == [(0,)]  # nothing recorded as asked: next run


def test_an_unreachable_provider_is_named_in_the_run_and_stored(con, providers, monkeypatch):
    monkeypatch.setenv("RECCOBEATS_API_BASE_URL", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv("SPOTIFY_BRAIN_API_RETRIES", "1")
    report = enrich(con, load_settings(), sleep=lambda s: None)
    assert report.unreachable() and "ReccoBeats unreachable" in report.unreachable()[0]
    assert "ReccoBeats: 0 asked, 0 found" in report.summary() and "UNREACHABLE" in report.summary()
    stored = json.loads(_one(con, "select providers from raw.enrichment_runs")[0][0])
    assert stored["ReccoBeats"]["reachable"] is False and stored["ListenBrainz"]["reachable"] is True
    assert _one(con, "select count(*) from raw.feature_lookups") == [(0,)]  # asked again next run


def test_an_export_only_listener_gets_genres_art_and_moods_and_the_export_says_what_is_covered(
        env, providers, dbt_manifest, monkeypatch, capsys):
    for name, value in {**providers.env(), "SPOTIFY_BRAIN_INGEST_SOURCE": "none", "SPOTIFY_BRAIN_LISTENER_ID": "me",
                        "SPOTIFY_BRAIN_TIMEZONE": "UTC", "SPOTIFY_BRAIN_MOOD_K": "2"}.items():
        monkeypatch.setenv(name, value)
    providers.features["4" * 22] = {**FEATURES, "energy": 0.1, "valence": 0.9}  # a second mood to cluster
    providers.oembed["4" * 22] = "https://i.scdn.co/image/calm"
    history = write_history(env / "history")
    extra = json.loads((history / "Streaming_History_Audio_2025_0.json").read_text())
    extra.append(_extended("4" * 22, "Calm Song", "Band E", "2025-03-06T08:00:00Z"))
    (history / "Streaming_History_Audio_2025_0.json").write_text(json.dumps(extra))
    assert main(["import", str(history), "--listener", "me", "--timezone", "UTC"]) == 0
    out = capsys.readouterr().out
    assert "ListenBrainz: 6 asked, 3 found" in out and "MusicBrainz genres" in out
    # no Spotify app is the usual path, said once, not a run that "stopped early"
    assert "Spotify's own genres need a Spotify app" in out and "stopped early" not in out
    assert main(["run", "--job", "full_retrain"]) == 0
    data = json.loads((env / "export" / "dashboard_data.json").read_text())
    genres = [g["genre"] for g in data["genre_profiles"]["overall"]]
    assert {"indie rock", "synth-pop", "krautrock"} <= set(genres)
    for item in data["recently_played"]:
        if item["mood_cluster_id"] is not None:  # a covered track: a mood, a real image
            assert item["image_url"].startswith("https://") and item["mood_missing_reason"] is None
        else:
            assert item["mood_missing_reason"], item
    reasons = {item["track_name"]: item["mood_missing_reason"] for item in data["recently_played"]}
    assert "name only" in reasons["Nobody's Song"] and "does not know" in reasons["Unknown Song"]
    coverage = data["coverage"]
    assert 0 < coverage["track_id"]["plays_share"] < 1 and 0 < coverage["album_art"]["plays_share"] < 1
    assert coverage["genres"]["plays_share"] > 0.5
    assert all(p["reachable"] for p in coverage["providers"].values())


def test_an_offline_machine_stops_each_provider_at_its_first_request_without_backoff(monkeypatch):
    """No DNS (a laptop offline, a sandbox): urllib3's own resolution fails as it does then, and
    the provider stops at once instead of sleeping through its retries (14 s of an offline refresh)."""
    import socket

    import requests

    from helpers import no_dns
    from ingest.enrichment.http import Provider, ProviderStopped

    monkeypatch.setattr(socket, "getaddrinfo", no_dns)
    waits: list[float] = []
    provider = Provider("ReccoBeats", load_settings(), min_interval_s=0.0, budget=10, sleep=waits.append,
                        session=requests.Session())
    with pytest.raises(ProviderStopped) as stopped:
        provider.get("https://api.reccobeats.com/v1/audio-features", params={"ids": KNOWN})
    assert stopped.value.kind == "unreachable" and "did not resolve" in str(stopped.value)
    assert "api.reccobeats.com/v1/audio-features" in str(stopped.value) and "ids=" not in str(stopped.value)
    assert provider.report.requests == 1 and waits == []


def test_a_refused_connection_is_still_retried_with_backoff(monkeypatch):
    import requests

    from ingest.enrichment.http import Provider, ProviderStopped

    monkeypatch.setenv("SPOTIFY_BRAIN_API_RETRIES", "2")
    waits: list[float] = []
    provider = Provider("ReccoBeats", load_settings(), min_interval_s=0.0, budget=10, sleep=waits.append,
                        session=requests.Session())
    with pytest.raises(ProviderStopped, match="3 attempts"):
        provider.get("http://127.0.0.1:9/v1/audio-features")  # nothing listens there
    assert provider.report.requests == 3 and waits == [0.5, 1.0]
