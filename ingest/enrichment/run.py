"""The enrichment step: Spotify catalogue lookups (with an app) within the budget; the keyless
providers (Spotify ids for name-only tracks, MusicBrainz recordings and genres, album art); audio
features; then what is still missing. One row in raw.enrichment_runs, with what each provider
did and whether it could be reached."""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from datetime import timedelta

import duckdb

from ingest.enrichment.album_art import fetch_album_art
from ingest.enrichment.audio_features import fetch_audio_features
from ingest.enrichment.http import ProviderReport
from ingest.enrichment.listenbrainz import lookup_recordings
from ingest.enrichment.spotify_catalog import resolve_tracks_and_genres
from ingest.enrichment.spotify_ids import link_name_only_tracks
from ingest.spotify.client import STOPPED, CallBudget, SpotifyApi, SpotifyAuthError
from warehouse.loaders import utc_now
from warehouse.settings import Settings

@dataclass
class EnrichmentReport:
    tracks_resolved: int = 0
    artists_fetched: int = 0
    features_found: int = 0
    features_not_found: int = 0
    spotify_calls: int = 0
    tracks_without_features: int = 0
    tracks_without_artists: int = 0
    artists_without_genres: int = 0
    stopped: str | None = None          # why Spotify lookups ended early this run
    events: list[str] = field(default_factory=list)
    providers: dict[str, ProviderReport] = field(default_factory=dict)  # each web service asked, by name

    def summary(self) -> str:
        lines = [f"{self.tracks_resolved} tracks resolved to their artists, {self.artists_fetched} artists' "
                 f"genres fetched, {self.features_found} tracks got audio features "
                 f"({self.features_not_found} unknown to the provider), {self.spotify_calls} Spotify calls"]
        return "; ".join(lines + [p.line() for p in self.providers.values()])

    def unreachable(self) -> list[str]:
        return [p.stopped for p in self.providers.values() if p.unreachable]


def calls_left_today(con: duckdb.DuckDBPyConnection, settings: Settings) -> int:
    """This run's share of Spotify calls: the per-run budget, less what the last 24 hours used of the daily one."""
    used = con.execute("select coalesce(sum(spotify_calls), 0) from raw.enrichment_runs where started_at > ?",
                       [utc_now() - timedelta(days=1)]).fetchone()[0]
    return max(0, min(settings.api_calls_per_run, settings.api_calls_per_day - int(used)))


# why a run without a Spotify app made no Spotify lookups: kept in raw.enrichment_runs like any
# stop, though it is the usual path (the import says so once), not a run that ended early
NO_APP = "no SPOTIFY_CLIENT_ID/SECRET: Spotify's genres are not looked up"


def enrich(con: duckdb.DuckDBPyConnection, settings: Settings, sleep=time.sleep) -> EnrichmentReport:
    """One enrichment run: Spotify lookups within the budget, then audio features, then the counts."""
    report, started = EnrichmentReport(), utc_now()
    budget = CallBudget(calls_left_today(con, settings))
    api = None
    if settings.spotify_client_id and settings.spotify_client_secret:
        api = SpotifyApi(settings, None, sleep=sleep, budget=budget)
        try:
            resolve_tracks_and_genres(con, api, settings.artist_refresh_days, report)
        except STOPPED as exc:
            report.stopped = str(exc)
        except SpotifyAuthError as exc:
            report.stopped = f"the app credentials were refused: {exc}"
        report.events += api.events
    else:
        report.stopped = NO_APP
    if settings.keyless_lookups:
        # in this order: Spotify ids first, so the recordings, art and features below reach those tracks too
        for step in (link_name_only_tracks, lookup_recordings, fetch_album_art):
            provider = step(con, settings, sleep)
            report.providers[provider.name] = provider.report
            report.events += provider.report.events[-5:]
    if settings.audio_features != "none":
        fetch_audio_features(con, settings, api, report, sleep)
    report.spotify_calls = budget.spent
    _count_missing(con, report)
    con.execute("insert into raw.enrichment_runs values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [f"enrich-{started:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}", started, utc_now(), report.spotify_calls,
                 report.tracks_resolved, report.artists_fetched, report.features_found, report.stopped,
                 "; ".join(report.events)[:4000] or None,
                 json.dumps({name: p.as_json() for name, p in report.providers.items()})])
    return report


def _count_missing(con: duckdb.DuckDBPyConnection, report: EnrichmentReport) -> None:
    (report.tracks_without_features, report.tracks_without_artists,
     report.artists_without_genres) = con.execute(
        """
        select
            count(*) filter (where not exists (select 1 from raw.audio_features f where f.track_id = t.track_id)),
            count(*) filter (where t.artist_ids is null),
            (select count(*) from raw.artists where genres is null)
        from raw.tracks t where t.track_id not like 'name:%'
        """).fetchone()
