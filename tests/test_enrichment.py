"""Enrichment of imported history against a fake Spotify: single-track and single-artist calls,
most-played first, within the per-run and per-day budgets, resumable, stopped cleanly by a quota."""

import duckdb
import pytest

from fake_spotify import CLIENT_ID, CLIENT_SECRET, FakeSpotify, track_object
from ingest.enrichment.run import enrich
from warehouse.loaders import RawBatch, load_batch
from warehouse.schema import ensure_schema
from warehouse.settings import load_settings

# (track, artist, plays): the export knows the tracks by id only
TRACKS = [("T" * 21 + "1", "A" * 21 + "1", 5), ("T" * 21 + "2", "A" * 21 + "2", 3), ("T" * 21 + "3", "A" * 21 + "3", 1)]


@pytest.fixture
def fake():
    server = FakeSpotify()
    for track_id, artist_id, _ in TRACKS:
        server.tracks[track_id] = track_object(track_id, f"Song {track_id[-1]}", artist_id)
        server.artists[artist_id] = {"id": artist_id, "name": f"Artist {artist_id[-1]}", "genres": [f"genre {artist_id[-1]}"]}
    yield server
    server.close()


@pytest.fixture
def imported(env, fake, monkeypatch):
    """An imported history (tracks without artists) and app credentials, but no user token."""
    for name, value in {"SPOTIFY_CLIENT_ID": CLIENT_ID, "SPOTIFY_CLIENT_SECRET": CLIENT_SECRET,
                        "SPOTIFY_API_BASE_URL": f"{fake.url}/v1", "SPOTIFY_ACCOUNTS_BASE_URL": fake.url,
                        "SPOTIFY_BRAIN_AUDIO_FEATURES": "none", "SPOTIFY_BRAIN_INGEST_SOURCE": "none",
                        "SPOTIFY_BRAIN_API_TIMEOUT": "1"}.items():
        monkeypatch.setenv(name, value)
    settings = load_settings()
    settings.warehouse.parent.mkdir(parents=True)
    con = duckdb.connect(str(settings.warehouse))
    ensure_schema(con)
    from datetime import datetime, timedelta

    plays = [{"listener_id": "demo", "track_id": track_id, "played_at": datetime(2026, 5, 1) + timedelta(hours=n),
              "ms_played": 200_000} for track_id, _, count in TRACKS for n in range(count)]
    tracks = [{"track_id": track_id, "track_name": f"Song {track_id[-1]}", "artist_names": ["?"]}
              for track_id, _, _ in TRACKS]
    load_batch(con, RawBatch(source="extended_history", listener_id="demo", plays=plays, tracks=tracks,
                             listeners=[{"listener_id": "demo", "display_name": "Demo", "timezone": "UTC"}]))
    yield con
    con.close()


def _resolved(con) -> dict:
    return dict(con.execute("select track_id, artist_ids from raw.tracks where artist_ids is not null").fetchall())


def _genres(con) -> dict:
    return dict(con.execute("select artist_id, genres from raw.artists where genres is not null").fetchall())


def test_most_played_first_within_the_run_budget_then_the_next_run_goes_on(imported, fake, monkeypatch):
    monkeypatch.setenv("SPOTIFY_BRAIN_API_CALLS_PER_RUN", "3")
    first = enrich(imported, load_settings(), sleep=lambda s: None)
    # the most played track, its artist's genres, then the second track: three calls
    assert first.spotify_calls == 3 and "used up" in first.stopped
    assert set(_resolved(imported)) == {TRACKS[0][0], TRACKS[1][0]} and set(_genres(imported)) == {TRACKS[0][1]}
    assert [r for r in fake.requests if r.startswith("GET /v1/")] == [
        f"GET /v1/tracks/{TRACKS[0][0]}", f"GET /v1/artists/{TRACKS[0][1]}", f"GET /v1/tracks/{TRACKS[1][0]}"]
    second = enrich(imported, load_settings(), sleep=lambda s: None)
    assert second.spotify_calls == 3 and second.stopped is None
    assert _genres(imported) == {artist: [f"genre {artist[-1]}"] for _, artist, _ in TRACKS}
    assert second.tracks_without_artists == 0 and second.artists_without_genres == 0
    assert enrich(imported, load_settings()).spotify_calls == 0  # nothing left to ask


def test_the_daily_budget_counts_every_run_of_the_last_24_hours(imported, monkeypatch):
    monkeypatch.setenv("SPOTIFY_BRAIN_API_CALLS_PER_RUN", "3")
    monkeypatch.setenv("SPOTIFY_BRAIN_API_CALLS_PER_DAY", "4")
    assert enrich(imported, load_settings()).spotify_calls == 3
    second = enrich(imported, load_settings())
    assert second.spotify_calls == 1 and second.stopped
    assert enrich(imported, load_settings()).spotify_calls == 0
    assert imported.execute("select sum(spotify_calls) from raw.enrichment_runs").fetchone() == (4,)


def test_a_quota_exceeded_429_ends_the_step_at_once_and_keeps_what_landed(imported, fake):
    waits = []
    fake.fail_next(f"/v1/artists/{TRACKS[0][1]}", 429, {"Retry-After": "2"},
                   body={"error": {"status": 429, "message": "Quota exceeded", "reason": "QUOTA_EXCEEDED"}})
    report = enrich(imported, load_settings(), sleep=waits.append)
    assert waits == [] and "QUOTA_EXCEEDED" in report.stopped
    assert set(_resolved(imported)) == {TRACKS[0][0]} and _genres(imported) == {}
    assert enrich(imported, load_settings()).stopped is None  # the next run catches up
    assert len(_genres(imported)) == 3


def test_a_track_spotify_does_not_know_is_not_asked_again_for_a_month(imported, fake):
    del fake.tracks[TRACKS[2][0]]
    enrich(imported, load_settings())
    assert imported.execute("select item_kind, item_id, found from raw.catalog_lookups").fetchall() == [
        ("track", TRACKS[2][0], False)]
    fake.requests.clear()
    assert enrich(imported, load_settings()).spotify_calls == 0 and fake.requests == []


def test_without_app_credentials_it_says_what_genres_need(imported, monkeypatch):
    monkeypatch.delenv("SPOTIFY_CLIENT_ID")
    report = enrich(imported, load_settings())
    assert report.spotify_calls == 0 and "SPOTIFY_CLIENT_ID" in report.stopped
    assert report.tracks_without_artists == 3
