"""The Spotify source: for every configured listener, pull new plays and land them.

One listener's failure does not stop the others. A rate limit over the cap is a clean stop
(recorded, cursor unchanged, the run goes on); a refused refresh token, refused credentials,
a refused request (4xx, e.g. a user not registered with a development-mode app) or an outage
are recorded for that listener with what to do, and then fail the run, naming each listener.
Enrichment (genres, audio features) is its own step after this one (ingest/enrichment/).
"""

from __future__ import annotations

import time

import duckdb
import spotipy

from ingest.results import IngestError, IngestResult
from ingest.spotify.recently_played import SOURCE, pull_new_plays
from ingest.spotify.client import (SpotifyApi, SpotifyAuthError, SpotifyAuthExpiredError, SpotifyRateLimitedError,
                                   SpotifyUnavailableError, refusal_hint)
from warehouse.loaders import load_batch, record_stopped_run
from warehouse.settings import Settings

OUTCOMES = {SpotifyRateLimitedError: "rate_limited", SpotifyAuthExpiredError: "auth_expired",
            SpotifyAuthError: "auth_failed", SpotifyUnavailableError: "unavailable",
            spotipy.SpotifyException: "refused"}


def _why(exc: Exception) -> str:
    if isinstance(exc, spotipy.SpotifyException):
        return f"HTTP {exc.http_status}: {refusal_hint(exc.http_status, str(exc.msg))}"
    return str(exc)


def ingest_from_spotify(con: duckdb.DuckDBPyConnection, settings: Settings, sleep=time.sleep) -> IngestResult:
    result, failures = IngestResult(source="spotify"), []
    for listener in settings.listeners():
        api = None
        try:
            api = SpotifyApi(settings, listener, sleep=sleep)
            batch, pages = pull_new_plays(con, api, settings.max_pages)
        except tuple(OUTCOMES) as exc:
            events = api.events if api else []
            why = _why(exc)
            message = "; ".join([why, *events])
            outcome = next(o for kind, o in OUTCOMES.items() if isinstance(exc, kind))
            result.reports.append(record_stopped_run(con, listener.listener_id, SOURCE, outcome, message))
            result.events.append(f"{listener.listener_id}: {why}")
            if not isinstance(exc, SpotifyRateLimitedError):
                failures.append(f"{listener.listener_id}: {why}")
            continue
        if api.tokens.rotated:
            api.events.append(f"refresh token rotated; the new one is kept in {settings.token_file}")
            result.token_rotated.append(listener.listener_id)
        batch.note = "; ".join([f"{pages} page(s)", *api.events])
        result.reports.append(load_batch(con, batch))
        result.events += [f"{listener.listener_id}: {event}" for event in api.events]
    if failures:
        raise IngestError("the Spotify pull failed for " + "; ".join(failures))
    return result
