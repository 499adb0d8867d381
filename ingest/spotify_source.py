"""The Spotify source: for every configured listener, pull new plays, land them, then enrich.

One listener's failure does not stop the others. A rate limit over the cap is a clean stop
(recorded, cursor unchanged, the run goes on); a refused refresh token, refused credentials
or an outage are recorded too and then fail the run, naming the listener and what to do.
"""

from __future__ import annotations

import time

import duckdb

from ingest.enrichment import enrich
from ingest.sources import IngestError, IngestResult
from ingest.spotify_api import SOURCE, pull_new_plays
from ingest.spotify_client import (SpotifyApi, SpotifyAuthError, SpotifyAuthExpiredError, SpotifyRateLimitedError,
                                   SpotifyUnavailableError)
from warehouse.loaders import load_batch, record_stopped_run
from warehouse.settings import Settings

OUTCOMES = {SpotifyRateLimitedError: "rate_limited", SpotifyAuthExpiredError: "auth_expired",
            SpotifyAuthError: "auth_failed", SpotifyUnavailableError: "unavailable"}


def ingest_from_spotify(con: duckdb.DuckDBPyConnection, settings: Settings, sleep=time.sleep) -> IngestResult:
    result, failures, enrich_with = IngestResult(source="spotify"), [], None
    for listener in settings.listeners():
        api = None
        try:
            api = SpotifyApi(settings, listener, sleep=sleep)
            batch, pages = pull_new_plays(con, api, settings.max_pages)
        except tuple(OUTCOMES) as exc:
            events = api.events if api else []
            message = "; ".join([str(exc), *events])
            result.reports.append(record_stopped_run(con, listener.listener_id, SOURCE, OUTCOMES[type(exc)], message))
            result.events.append(f"{listener.listener_id}: {exc}")
            if not isinstance(exc, SpotifyRateLimitedError):
                failures.append(f"{listener.listener_id}: {exc}")
            continue
        if api.tokens.rotated:
            api.events.append(f"refresh token rotated; the new one is kept in {settings.token_file}")
            result.token_rotated.append(listener.listener_id)
        batch.note = "; ".join([f"{pages} page(s)", *api.events])
        result.reports.append(load_batch(con, batch))
        result.events += [f"{listener.listener_id}: {event}" for event in api.events]
        enrich_with = enrich_with or api
    if enrich_with is not None or settings.audio_features == "file":
        try:
            enrichment = enrich(con, settings, enrich_with, sleep=sleep)
        except SpotifyAuthExpiredError as exc:
            failures.append(str(exc))
        else:
            result.tracks_without_features = enrichment.tracks_without_features
            result.events += enrichment.events
            result.events.append(f"enrichment: {enrichment.artists_fetched} artists fetched, "
                                 f"{enrichment.features_found} tracks got audio features, "
                                 f"{enrichment.features_not_found} unknown to {settings.audio_features}, "
                                 f"{enrichment.tracks_without_features} tracks without features in all")
    if failures:
        raise IngestError("the Spotify pull failed for " + "; ".join(failures))
    return result
