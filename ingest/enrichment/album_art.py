"""Album art without a Spotify app: Spotify's oEmbed for a track with a Spotify id (its own cover,
`thumbnail_url`), else the Cover Art Archive's image of the MusicBrainz release ListenBrainz
matched (no request: the URL is known from the release and image ids), into
raw.tracks.album_image_url.

oEmbed: `GET /oembed?url=https://open.spotify.com/track/{id}` answers {html, width, height,
version, provider_name, provider_url, type, title, thumbnail_url, thumbnail_width,
thumbnail_height} (Spotify's oEmbed API reference); 404 for a track it does not know.
"""

from __future__ import annotations

import time

import duckdb

from ingest.enrichment.http import Provider, ProviderStopped
from ingest.enrichment.lookups import to_ask
from warehouse.loaders import land_lookups
from warehouse.settings import Settings

PROVIDER = "spotify_oembed"
LANDED_EVERY = 25


def fetch_album_art(con: duckdb.DuckDBPyConnection, settings: Settings, sleep=time.sleep) -> Provider:
    provider = Provider("Spotify oEmbed", settings, min_interval_s=0.1, budget=settings.lookups_per_run, sleep=sleep)
    wanted = to_ask(con, PROVIDER, "t.track_id not like 'name:%' and t.album_image_url is null", "t.track_id",
                    settings.lookups_per_run + 1)  # one more than the budget: the report says when some are left
    images: dict[str, str] = {}
    asked: list[str] = []
    try:
        for (track_id,) in wanted:
            image = thumbnail(provider, settings, track_id)
            asked.append(track_id)
            if image:
                images[track_id] = image
            if len(asked) >= LANDED_EVERY:
                _land(con, asked, images, provider)
                asked, images = [], {}
    except ProviderStopped as exc:
        provider.report.stopped, provider.report.unreachable = str(exc), exc.kind == "unreachable"
    _land(con, asked, images, provider)
    cover_art_archive(con, settings)
    return provider


def thumbnail(provider: Provider, settings: Settings, track_id: str) -> str | None:
    """The cover oEmbed gives for a Spotify track, or None when it knows none."""
    status, body = provider.get(f"{settings.spotify_oembed_base_url}/oembed",
                                {"url": f"https://open.spotify.com/track/{track_id}"})
    if status not in (200, 400, 404):
        raise ProviderStopped("unreachable", f"Spotify oEmbed answered HTTP {status}")
    image = body.get("thumbnail_url") if status == 200 and isinstance(body, dict) else None
    return image if isinstance(image, str) and image.startswith("https://") else None


def _land(con: duckdb.DuckDBPyConnection, asked: list[str], images: dict[str, str], provider: Provider) -> None:
    if asked:
        land_lookups(con, PROVIDER, asked, set(images), images=images)
        provider.report.asked += len(asked)
        provider.report.found += len(images)


def cover_art_archive(con: duckdb.DuckDBPyConnection, settings: Settings) -> int:
    """The release's front cover (250 px) for every track still without art whose recording has
    one: name-only tracks, and Spotify tracks oEmbed had no image for."""
    rows = con.execute(
        """
        select t.track_id, r.caa_release_mbid, r.caa_id
        from raw.tracks t join raw.recordings r using (track_id)
        where t.album_image_url is null and r.caa_release_mbid is not null and r.caa_id is not null
          and (t.track_id like 'name:%' or exists (
                select 1 from raw.metadata_lookups l
                where l.provider = ? and l.item_id = t.track_id and not l.found))
        """, [PROVIDER]).fetchall()
    images = {track_id: f"{settings.cover_art_archive_base_url}/release/{release}/{image}-250.jpg"
              for track_id, release, image in rows}
    if images:
        land_lookups(con, "cover_art_archive", list(images), set(images), images=images)
    return len(images)
