"""Spotify track ids for name-only tracks (the account data has names, no ids), from ListenBrainz
Labs' `spotify-id-from-metadata`: keyless, many tracks a request, matched against ListenBrainz's
index of Spotify's catalogue by artist, release and track name (the release may be empty; it then
matches on artist and track). A match becomes a raw.track_links row (and the Spotify track a
raw.tracks row with the same names), so dbt resolves the plays to it and the audio features,
moods and art of a real track follow.

Request (POST, JSON): [{"artist_name", "release_name", "track_name"}, ...]; answer: the same rows
in the same order, each with `spotify_track_ids` (best first, [] when none) — as ListenBrainz's own
labs code (listenbrainz/labs_api/labs/api/spotify/) defines it.
"""

from __future__ import annotations

import re
import time

import duckdb

from ingest.enrichment.http import Provider, ProviderStopped
from ingest.enrichment.lookups import NAME_ONLY_UNRESOLVED, to_ask
from warehouse.loaders import land_lookups
from warehouse.settings import Settings

PROVIDER = "listenbrainz_labs"
BATCH = 25
SPOTIFY_ID = re.compile(r"^[0-9A-Za-z]{22}$")


def link_name_only_tracks(con: duckdb.DuckDBPyConnection, settings: Settings, sleep=time.sleep) -> Provider:
    provider = Provider("ListenBrainz Labs", settings, min_interval_s=0.5, budget=settings.lookups_per_run,
                        sleep=sleep)
    wanted = to_ask(con, PROVIDER, NAME_ONLY_UNRESOLVED,
                    "t.track_id, t.track_name, t.artist_names[1], coalesce(t.album_name, '')",
                    settings.lookups_per_run * BATCH + 1)
    url = f"{settings.listenbrainz_labs_base_url}/spotify-id-from-metadata/json"
    try:
        for start in range(0, len(wanted), BATCH):
            chunk = wanted[start:start + BATCH]
            status, body = provider.post(url, [{"artist_name": artist or "", "release_name": album,
                                                "track_name": name or ""} for _, name, artist, album in chunk])
            if status != 200 or not isinstance(body, list):
                raise ProviderStopped("unreachable", f"ListenBrainz Labs answered HTTP {status} "
                                                     f"{'with no list' if status == 200 else ''}".strip())
            _land(con, chunk, body, provider)
    except ProviderStopped as exc:
        provider.report.stopped, provider.report.unreachable = str(exc), exc.kind == "unreachable"
    return provider


def _land(con: duckdb.DuckDBPyConnection, chunk: list[tuple], rows: list, provider: Provider) -> None:
    links, tracks = [], []
    for (name_track_id, name, artist, album), row in zip(chunk, rows):
        ids = row.get("spotify_track_ids") if isinstance(row, dict) else None
        best = next((i for i in ids or [] if isinstance(i, str) and SPOTIFY_ID.match(i)), None)
        if best:
            links.append({"name_track_id": name_track_id, "track_id": best})
            tracks.append({"track_id": best, "track_name": name, "album_name": album or None,
                           "artist_names": [artist] if artist else None})
    asked = [item[0] for item in chunk[:len(rows)]]
    land_lookups(con, PROVIDER, asked, {link["name_track_id"] for link in links}, links=links, tracks=tracks)
    provider.report.asked += len(asked)
    provider.report.found += len(links)
