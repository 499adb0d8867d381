"""Enrichment: what plays need beyond a track id, for every source (API, privacy export, demo).

It runs after every ingest, whatever the source, on what the warehouse lacks:

- Track details and artists. Privacy exports carry a track URI and names only, so with
  Spotify app credentials (SPOTIFY_CLIENT_ID/SECRET; no user token needed) each such track
  is looked up by a single-track call (development-mode apps lost the batch endpoints in
  Feb 2026), which gives its album, cover and artist ids.
- Artist genres, by single-artist calls: once per artist, again after
  SPOTIFY_BRAIN_ARTIST_REFRESH_DAYS. `raw.artists.genres` is null until fetched, `[]` when
  Spotify knows no genre.
- Audio features from the provider SPOTIFY_BRAIN_AUDIO_FEATURES names: `reccobeats` (free,
  takes Spotify ids), `file` (CSV or Parquet of track_id + feature columns), `spotify` (apps
  that still have the endpoint) or `none`. Each track asked about is kept in
  `raw.feature_lookups`, so one no provider knows is asked again only after 30 days.

Spotify calls are budgeted: at most SPOTIFY_BRAIN_API_CALLS_PER_RUN per run and
SPOTIFY_BRAIN_API_CALLS_PER_DAY over the last 24 hours (development-mode apps are throttled to
roughly a thousand a day), most-played tracks first. What is not done is simply still missing,
so the next run continues there. A long Retry-After, a 429 saying QUOTA_EXCEEDED or a spent
budget ends the step cleanly; the job goes on. Every run is a row in `raw.enrichment_runs`.
"""

from __future__ import annotations

import re
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import duckdb
import pyarrow as pa
import requests
import spotipy

from ingest.spotify_client import (BudgetSpentError, CallBudget, SpotifyApi, SpotifyAuthError, SpotifyRateLimitedError,
                                   SpotifyUnavailableError)
from warehouse.loaders import FEATURE_COLUMNS, FEATURE_SCHEMA, complete_catalog
from warehouse.settings import Settings

TRACKS_PER_RUN = 2000       # feature lookups per run (ReccoBeats, file): the rest follows next run
RECCOBEATS_BATCH = 40
SPOTIFY_FEATURES_BATCH = 100
LOOKUP_AGAIN_AFTER = timedelta(days=30)
TRACK_IN_URL = re.compile(r"track[/:]([0-9A-Za-z]{22})")
STOPPED = (SpotifyRateLimitedError, SpotifyUnavailableError, BudgetSpentError)


class FeatureFileError(ValueError):
    """The audio-features file cannot be used; the message names it."""


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

    def summary(self) -> str:
        return (f"{self.tracks_resolved} tracks resolved to their artists, {self.artists_fetched} artists' "
                f"genres fetched, {self.features_found} tracks got audio features "
                f"({self.features_not_found} unknown to the provider), {self.spotify_calls} Spotify calls")


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def calls_left_today(con: duckdb.DuckDBPyConnection, settings: Settings) -> int:
    """This run's share of Spotify calls: the per-run budget, less what the last 24 hours used of the daily one."""
    used = con.execute("select coalesce(sum(spotify_calls), 0) from raw.enrichment_runs where started_at > ?",
                       [_now() - timedelta(days=1)]).fetchone()[0]
    return max(0, min(settings.api_calls_per_run, settings.api_calls_per_day - int(used)))


def enrich(con: duckdb.DuckDBPyConnection, settings: Settings, sleep=time.sleep) -> EnrichmentReport:
    """One enrichment run: Spotify lookups within the budget, then audio features, then the counts."""
    report, started = EnrichmentReport(), _now()
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
        report.stopped = "no SPOTIFY_CLIENT_ID/SECRET: artists and genres are not looked up"
    if settings.audio_features != "none":
        fetch_audio_features(con, settings, api, report, sleep)
    report.spotify_calls = budget.spent
    _count_missing(con, report)
    con.execute("insert into raw.enrichment_runs values (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [f"enrich-{started:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}", started, _now(), report.spotify_calls,
                 report.tracks_resolved, report.artists_fetched, report.features_found, report.stopped,
                 "; ".join(report.events)[:4000] or None])
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


def _work_list(con: duckdb.DuckDBPyConnection, refresh_days: int) -> list[tuple[str, str]]:
    """What to ask Spotify for, most-played first: ('track', id) for a track whose artists are
    unknown (and not looked up in the last 30 days), then ('artist', id) for each of its artists,
    or of a known track's artists, whose genres are missing or older than `refresh_days`."""
    stale = _now() - timedelta(days=refresh_days)
    rows = con.execute(
        """
        with played as (
            select track_id, count(*) as plays from raw.plays group by track_id
        ),
        tracks as (
            select t.track_id, t.artist_ids, coalesce(p.plays, 0) as plays,
                   t.artist_ids is null and not exists (
                       select 1 from raw.catalog_lookups l
                       where l.item_kind = 'track' and l.item_id = t.track_id and l.looked_up_at > ?) as ask_track
            from raw.tracks t left join played p using (track_id)
            where t.track_id not like 'name:%'
        ),
        artists_wanted as (
            select unnest(t.artist_ids) as artist_id, t.plays
            from tracks t where t.artist_ids is not null
        ),
        artist_plays as (
            select a.artist_id, max(w.plays) as plays
            from raw.artists a join artists_wanted w using (artist_id)
            where a.genres is null or a.loaded_at < ?
            group by a.artist_id
        )
        select 'track' as kind, track_id as id, plays from tracks where ask_track
        union all
        select 'artist', artist_id, plays from artist_plays
        order by plays desc, kind desc, id
        """, [_now() - LOOKUP_AGAIN_AFTER, stale]).fetchall()
    return [(kind, item) for kind, item, _ in rows]


def resolve_tracks_and_genres(con: duckdb.DuckDBPyConnection, api: SpotifyApi, refresh_days: int,
                              report: EnrichmentReport) -> None:
    """Single-track and single-artist calls in order of plays; raises a STOPPED error when Spotify
    or the budget says stop (what was landed so far stays)."""
    done_artists: set[str] = set()
    for kind, item in _work_list(con, refresh_days):
        if kind == "track":
            for artist_id in _resolve_track(con, api, item, report):
                if artist_id not in done_artists and _artist_needs_genres(con, artist_id, refresh_days):
                    _fetch_artist(con, api, artist_id, report)
                    done_artists.add(artist_id)
        elif item not in done_artists:
            _fetch_artist(con, api, item, report)
            done_artists.add(item)


def _lookup_failed(con: duckdb.DuckDBPyConnection, kind: str, item: str, found: bool) -> None:
    con.execute("insert or replace into raw.catalog_lookups values (?, ?, ?, ?)", [kind, item, found, _now()])


def _get(api: SpotifyApi, what: str, fn, item: str) -> dict | None:
    """A catalogue object, or None when Spotify does not know the id (404/400: not asked again soon)."""
    try:
        found = api.call(what, fn, item)
    except spotipy.SpotifyException as exc:
        if exc.http_status in (400, 404):
            return None
        raise SpotifyUnavailableError(f"{what}: HTTP {exc.http_status}: {exc.msg}") from None
    return found if isinstance(found, dict) else None


def _resolve_track(con: duckdb.DuckDBPyConnection, api: SpotifyApi, track_id: str,
                   report: EnrichmentReport) -> list[str]:
    track = _get(api, f"track {track_id}", api.client.track, track_id)
    if track is None:
        _lookup_failed(con, "track", track_id, False)
        return []
    album = track.get("album") if isinstance(track.get("album"), dict) else {}
    images = [i for i in album.get("images") or [] if isinstance(i, dict) and i.get("url")]
    artists = [a for a in track.get("artists") or [] if isinstance(a, dict) and isinstance(a.get("id"), str)]
    duration = track.get("duration_ms")
    complete_catalog(con, tracks=[{
        "track_id": track_id, "track_name": track.get("name"), "album_id": album.get("id"),
        "album_name": album.get("name"), "album_image_url": images[0]["url"] if images else None,
        "duration_ms": duration if isinstance(duration, int) and not isinstance(duration, bool) else None,
        "artist_ids": [a["id"] for a in artists], "artist_names": [a.get("name") for a in artists],
    }], artists=[{"artist_id": a["id"], "artist_name": a.get("name"), "genres": None} for a in artists])
    report.tracks_resolved += 1
    return [a["id"] for a in artists]


def _artist_needs_genres(con: duckdb.DuckDBPyConnection, artist_id: str, refresh_days: int) -> bool:
    return con.execute("select genres is null or loaded_at < ? from raw.artists where artist_id = ?",
                       [_now() - timedelta(days=refresh_days), artist_id]).fetchone() == (True,)


def _fetch_artist(con: duckdb.DuckDBPyConnection, api: SpotifyApi, artist_id: str, report: EnrichmentReport) -> None:
    artist = _get(api, f"artist {artist_id}", api.client.artist, artist_id) or {}
    genres = [g for g in artist.get("genres") or [] if isinstance(g, str)]
    name = artist.get("name") if isinstance(artist.get("name"), str) else None
    con.execute("update raw.artists set genres = ?, artist_name = coalesce(?, artist_name), loaded_at = ? "
                "where artist_id = ?", [genres, name, _now(), artist_id])
    report.artists_fetched += 1


def _tracks_needing_features(con: duckdb.DuckDBPyConnection, provider: str) -> list[str]:
    """Tracks without features and not asked lately, most-played first."""
    return [r[0] for r in con.execute(
        """
        select t.track_id from raw.tracks t
        left join (select track_id, count(*) as plays from raw.plays group by track_id) p using (track_id)
        where t.track_id not like 'name:%'
          and not exists (select 1 from raw.audio_features f where f.track_id = t.track_id)
          and not exists (select 1 from raw.feature_lookups l
                          where l.track_id = t.track_id and l.provider = ? and l.looked_up_at > ?)
        order by coalesce(p.plays, 0) desc, t.track_id limit ?
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
        report.events.append("SPOTIFY_BRAIN_AUDIO_FEATURES=spotify needs SPOTIFY_CLIENT_ID/SECRET")
        return
    rows = [{"track_id": track_id, **{c: features.get(c) for c in FEATURE_COLUMNS}}
            for track_id, features in found.items()]
    now = _now()
    lookups = pa.table({"track_id": pa.array(asked, pa.string()), "found": [t in found for t in asked]})
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
        except STOPPED as exc:
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
                               f"{str(exc).splitlines()[0][:300]}") from None
    present = [c for c in FEATURE_COLUMNS if c in columns]
    if "track_id" not in columns or not present:
        raise FeatureFileError(f"{where}: needs a track_id column and at least one of {', '.join(FEATURE_COLUMNS)}; "
                               f"found {', '.join(sorted(columns))[:300]}")
    selected = ", ".join(f"try_cast({c} as double) as {c}" for c in present)
    con.register("wanted", pa.table({"track_id": pa.array(wanted, pa.string())}))
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
