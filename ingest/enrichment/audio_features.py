"""Audio features from the provider SPOTIFY_BRAIN_AUDIO_FEATURES names (reccobeats, file,
spotify), for the most-played tracks without them (a name-only track gets them once a provider
found its Spotify id); every track asked is kept in raw.feature_lookups, found or not, and is not
asked again unless the user retries (`spotify-brain enrich --retry`)."""

from __future__ import annotations

import time
from pathlib import Path

import duckdb
import pyarrow as pa
import spotipy

from ingest.enrichment.http import ProviderReport
from ingest.enrichment.reccobeats import features_of, from_reccobeats
from ingest.spotify.client import STOPPED, SpotifyApi
from warehouse.loaders import FEATURE_COLUMNS, land_features
from warehouse.settings import Settings

TRACKS_PER_RUN = 2000       # feature lookups per run (ReccoBeats, file): the rest follows next run
SPOTIFY_FEATURES_BATCH = 100


class FeatureFileError(ValueError):
    """The audio-features file cannot be used; the message names it."""


def _tracks_needing_features(con: duckdb.DuckDBPyConnection, provider: str) -> list[str]:
    """Tracks without features that this provider was never asked about, most-played first (the
    plays of a linked name-only track count for its Spotify id)."""
    return [r[0] for r in con.execute(
        """
        with plays as (
            select coalesce(k.track_id, p.track_id) as track_id, count(*) as plays
            from raw.plays p left join raw.track_links k on k.name_track_id = p.track_id
            group by 1
        )
        select t.track_id from raw.tracks t
        left join plays p using (track_id)
        where t.track_id not like 'name:%'
          and not exists (select 1 from raw.audio_features f where f.track_id = t.track_id)
          and not exists (select 1 from raw.feature_lookups l where l.track_id = t.track_id and l.provider = ?)
        order by coalesce(p.plays, 0) desc, t.track_id limit ?
        """, [provider, TRACKS_PER_RUN]).fetchall()]


def fetch_audio_features(con: duckdb.DuckDBPyConnection, settings: Settings, api: SpotifyApi | None,
                         report, sleep=time.sleep) -> None:
    provider = settings.audio_features
    wanted = _tracks_needing_features(con, provider)
    if not wanted:
        return
    if provider == "file":
        found, asked = from_file(con, settings.audio_features_file, wanted), wanted
        report.providers["features file"] = ProviderReport("features file", asked=len(asked), found=len(found))
    elif provider == "reccobeats":
        found, asked, reccobeats = from_reccobeats(settings, wanted, sleep)
        report.providers[reccobeats.name] = reccobeats.report
        report.events += reccobeats.report.events
    elif api is not None:
        found, asked = from_spotify(api, wanted, report)
    else:
        report.events.append("SPOTIFY_BRAIN_AUDIO_FEATURES=spotify needs SPOTIFY_CLIENT_ID/SECRET")
        return
    rows = [{"track_id": track_id, **{c: features.get(c) for c in FEATURE_COLUMNS}}
            for track_id, features in found.items()]
    land_features(con, provider, rows, asked, set(found))
    report.features_found += len(found)
    report.features_not_found += len(asked) - len(found)


def from_spotify(api: SpotifyApi, wanted: list[str], report) -> tuple[dict[str, dict], list[str]]:
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
            if isinstance(record, dict) and record.get("id") in chunk and (features := features_of(record)):
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
