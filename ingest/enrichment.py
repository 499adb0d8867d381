"""Enrichment after a pull: artist genres and audio features for tracks that lack them.

Genres come from single-artist calls (development-mode apps lost the batch endpoints in
Feb 2026). An artist is fetched once and again only after SPOTIFY_BRAIN_ARTIST_REFRESH_DAYS;
`raw.artists.genres` is null until fetched, `[]` when Spotify knows no genre.

Audio features come from the provider SPOTIFY_BRAIN_AUDIO_FEATURES names: `reccobeats`
(free, takes Spotify ids), `file` (a CSV or Parquet file of track_id + feature columns),
`spotify` (for apps that still have the endpoint) or `none`. Every track asked about is
recorded in `raw.feature_lookups`, so a track no provider knows is asked again only after
30 days; its plays stay, it just has no mood.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import duckdb
import pyarrow as pa
import requests
import spotipy

from ingest.spotify_client import SpotifyApi, SpotifyRateLimitedError, SpotifyUnavailableError
from warehouse.loaders import FEATURE_COLUMNS, FEATURE_SCHEMA
from warehouse.settings import Settings

ARTISTS_PER_RUN = 200       # single calls: bound each run's share, the rest follows next run
TRACKS_PER_RUN = 2000
RECCOBEATS_BATCH = 40
SPOTIFY_FEATURES_BATCH = 100
LOOKUP_AGAIN_AFTER = timedelta(days=30)
TRACK_IN_URL = re.compile(r"track[/:]([0-9A-Za-z]{22})")


class FeatureFileError(ValueError):
    """The audio-features file cannot be used; the message names it."""


@dataclass
class EnrichmentReport:
    artists_fetched: int = 0
    features_found: int = 0
    features_not_found: int = 0
    tracks_without_features: int = 0
    events: list[str] = field(default_factory=list)


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def enrich(con: duckdb.DuckDBPyConnection, settings: Settings, api: SpotifyApi | None,
           sleep=time.sleep) -> EnrichmentReport:
    report = EnrichmentReport()
    if api is not None:
        fetch_artist_genres(con, api, settings.artist_refresh_days, report)
    if settings.audio_features != "none":
        fetch_audio_features(con, settings, api, report, sleep)
    report.tracks_without_features = con.execute(
        "select count(*) from raw.tracks t where t.track_id not like 'name:%' and not exists "
        "(select 1 from raw.audio_features f where f.track_id = t.track_id)").fetchone()[0]
    return report


def fetch_artist_genres(con: duckdb.DuckDBPyConnection, api: SpotifyApi, refresh_days: int,
                        report: EnrichmentReport) -> None:
    stale = _now() - timedelta(days=refresh_days)
    ids = [r[0] for r in con.execute(
        "select artist_id from raw.artists where genres is null or loaded_at < ? order by artist_id limit ?",
        [stale, ARTISTS_PER_RUN]).fetchall()]
    for artist_id in ids:
        try:
            artist = api.call(f"artist {artist_id}", api.client.artist, artist_id)
        except spotipy.SpotifyException as exc:
            if exc.http_status not in (400, 404):
                raise
            artist = {}  # unknown to Spotify: remember that, do not ask every run
        except (SpotifyRateLimitedError, SpotifyUnavailableError) as exc:
            report.events.append(f"artist genres: stopped ({exc}); the rest next run")
            return
        genres = [g for g in (artist or {}).get("genres") or [] if isinstance(g, str)]
        con.execute("update raw.artists set genres = ?, artist_name = coalesce(?, artist_name), loaded_at = ? "
                    "where artist_id = ?", [genres, (artist or {}).get("name"), _now(), artist_id])
        report.artists_fetched += 1


def _tracks_needing_features(con: duckdb.DuckDBPyConnection, provider: str) -> list[str]:
    return [r[0] for r in con.execute(
        """
        select t.track_id from raw.tracks t
        where t.track_id not like 'name:%'
          and not exists (select 1 from raw.audio_features f where f.track_id = t.track_id)
          and not exists (select 1 from raw.feature_lookups l
                          where l.track_id = t.track_id and l.provider = ? and l.looked_up_at > ?)
        order by t.track_id limit ?
        """, [provider, _now() - LOOKUP_AGAIN_AFTER, TRACKS_PER_RUN]).fetchall()]


def fetch_audio_features(con: duckdb.DuckDBPyConnection, settings: Settings, api: SpotifyApi | None,
                         report: EnrichmentReport, sleep=time.sleep) -> None:
    provider = settings.audio_features
    wanted = _tracks_needing_features(con, provider)
    if not wanted:
        return
    if provider == "file":
        found, asked = from_file(con, settings.audio_features_file, wanted), wanted
    elif provider == "reccobeats":
        found, asked = from_reccobeats(settings, wanted, report, sleep)
    elif api is not None:
        found, asked = from_spotify(api, wanted, report)
    else:
        return
    rows = [{"track_id": track_id, **{c: features.get(c) for c in FEATURE_COLUMNS}}
            for track_id, features in found.items()]
    now = _now()
    lookups = pa.table({"track_id": asked, "found": [t in found for t in asked]})
    con.execute("begin transaction")
    try:
        con.register("features", pa.Table.from_pylist(rows, schema=FEATURE_SCHEMA))
        con.register("lookups", lookups)
        con.execute("insert into raw.audio_features select *, ?, ?, ? from features on conflict do nothing",
                    [provider, f"features-{provider}-{now:%Y%m%dT%H%M%S}", now])
        con.execute("insert or replace into raw.feature_lookups select track_id, ?, found, ? from lookups",
                    [provider, now])
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise
    finally:
        con.unregister("features")
        con.unregister("lookups")
    report.features_found += len(found)
    report.features_not_found += len(asked) - len(found)


def _features(record: dict) -> dict | None:
    """The feature columns of a provider's record, as floats; None if it has none usable."""
    values = {}
    for column in FEATURE_COLUMNS:
        value = record.get(column)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            values[column] = float(value)
    return values or None


def from_reccobeats(settings: Settings, wanted: list[str], report: EnrichmentReport,
                    sleep=time.sleep) -> tuple[dict[str, dict], list[str]]:
    """ReccoBeats answers with its own ids; the Spotify id is in each record's `href`."""
    found: dict[str, dict] = {}
    asked: list[str] = []
    url = f"{settings.reccobeats_api_base_url}/v1/audio-features"
    for start in range(0, len(wanted), RECCOBEATS_BATCH):
        chunk = wanted[start:start + RECCOBEATS_BATCH]
        body = _get_json(url, {"ids": ",".join(chunk)}, settings, report, sleep)
        if body is None:
            break  # stopped: what was asked so far is recorded, the rest next run
        records = body.get("content", body.get("audio_features", [])) if isinstance(body, dict) else []
        for record in records if isinstance(records, list) else []:
            if not isinstance(record, dict):
                continue
            match = TRACK_IN_URL.search(str(record.get("href") or "")) or TRACK_IN_URL.search(
                f"track:{record.get('id')}")
            features = _features(record)
            if match and match.group(1) in chunk and features:
                found[match.group(1)] = features
        asked += chunk
    return found, asked


def _get_json(url: str, params: dict, settings: Settings, report: EnrichmentReport, sleep):
    """GET with the same bounds as the Spotify client; None (and an event) when we give up."""
    for attempt in range(settings.api_retries + 1):
        try:
            response = requests.get(url, params=params, timeout=settings.api_timeout_s)
        except (requests.Timeout, requests.ConnectionError) as exc:
            problem = type(exc).__name__
        else:
            if response.status_code == 200:
                try:
                    return response.json()
                except ValueError:
                    problem = "a response that is not JSON"
            elif response.status_code == 429:
                try:
                    wait = float(response.headers.get("Retry-After", ""))
                except ValueError:
                    wait = None
                if wait is None or wait > settings.max_retry_after_s:
                    report.events.append(f"{url}: 429, Retry-After {wait}s: stopped, the rest next run")
                    return None
                sleep(wait)
                continue
            elif response.status_code < 500:
                report.events.append(f"{url}: HTTP {response.status_code}: stopped")
                return None
            else:
                problem = f"HTTP {response.status_code}"
        report.events.append(f"{url}: {problem}, attempt {attempt + 1}")
        sleep(min(30.0, 0.5 * 2 ** attempt))
    report.events.append(f"{url}: gave up after {settings.api_retries + 1} attempts")
    return None


def from_spotify(api: SpotifyApi, wanted: list[str], report: EnrichmentReport) -> tuple[dict[str, dict], list[str]]:
    found: dict[str, dict] = {}
    asked: list[str] = []
    for start in range(0, len(wanted), SPOTIFY_FEATURES_BATCH):
        chunk = wanted[start:start + SPOTIFY_FEATURES_BATCH]
        try:
            records = api.call("audio-features", api.client.audio_features, chunk) or []
        except spotipy.SpotifyException as exc:
            report.events.append(f"Spotify audio-features: HTTP {exc.http_status} (apps created after Nov 2024 "
                                 "cannot call it; choose reccobeats or file)")
            break
        except (SpotifyRateLimitedError, SpotifyUnavailableError) as exc:
            report.events.append(f"Spotify audio-features: stopped ({exc})")
            break
        for record in records:
            if isinstance(record, dict) and record.get("id") in chunk and (features := _features(record)):
                found[record["id"]] = features
        asked += chunk
    return found, asked


def from_file(con: duckdb.DuckDBPyConnection, path: Path, wanted: list[str]) -> dict[str, dict]:
    """Features of `wanted` tracks from a CSV or Parquet file: a `track_id` column (bare id or
    spotify:track: URI) and any of the feature columns; other columns are ignored."""
    where = f"SPOTIFY_BRAIN_AUDIO_FEATURES_FILE={path}"
    if not path.is_file():
        raise FeatureFileError(f"{where}: no such file")
    reader = "read_parquet" if path.suffix.lower() in (".parquet", ".pq") else "read_csv"
    try:
        columns = {r[0] for r in con.execute(f"describe select * from {reader}(?)", [str(path)]).fetchall()}
    except duckdb.Error as exc:
        raise FeatureFileError(f"{where}: cannot read it as {'Parquet' if reader == 'read_parquet' else 'CSV'}: "
                               f"{str(exc).splitlines()[0]}") from None
    present = [c for c in FEATURE_COLUMNS if c in columns]
    if "track_id" not in columns or not present:
        raise FeatureFileError(f"{where}: needs a track_id column and at least one of {', '.join(FEATURE_COLUMNS)}; "
                               f"found {', '.join(sorted(columns))}")
    selected = ", ".join(f"try_cast({c} as double) as {c}" for c in present)
    con.register("wanted", pa.table({"track_id": wanted}))
    try:
        rows = con.execute(
            f"""
            select w.track_id, {selected}
            from {reader}(?) f join wanted w on w.track_id = regexp_replace(f.track_id::varchar, '^spotify:track:', '')
            qualify row_number() over (partition by w.track_id) = 1
            """, [str(path)]).fetchall()
    finally:
        con.unregister("wanted")
    found = {}
    for track_id, *values in rows:
        features = {c: v for c, v in zip(present, values) if v is not None}
        if features:
            found[track_id] = features
    return found
