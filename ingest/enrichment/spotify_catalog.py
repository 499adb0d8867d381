"""Spotify's catalogue, by single-item calls (development-mode apps lost the batch endpoints in
Feb 2026): a track's album, cover and artists, an artist's genres; most-played first, budgeted."""

from __future__ import annotations

from datetime import timedelta

import duckdb
import spotipy

from ingest.spotify.client import SpotifyApi, SpotifyUnavailableError
from warehouse.loaders import complete_catalog, utc_now

def _work_list(con: duckdb.DuckDBPyConnection, refresh_days: int) -> list[tuple[str, str]]:
    """What to ask Spotify for, most-played first: ('track', id) for a track whose artists are
    unknown (and never looked up: a track Spotify did not know is not asked again unless the user
    retries), then ('artist', id) for each of its artists,
    or of a known track's artists, whose genres are missing or older than `refresh_days`."""
    stale = utc_now() - timedelta(days=refresh_days)
    rows = con.execute(
        """
        with played as (
            select track_id, count(*) as plays from raw.plays group by track_id
        ),
        tracks as (
            select t.track_id, t.artist_ids, coalesce(p.plays, 0) as plays,
                   t.artist_ids is null and not exists (
                       select 1 from raw.catalog_lookups l
                       where l.item_kind = 'track' and l.item_id = t.track_id) as ask_track
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
        """, [stale]).fetchall()
    return [(kind, item) for kind, item, _ in rows]


def resolve_tracks_and_genres(con: duckdb.DuckDBPyConnection, api: SpotifyApi, refresh_days: int,
                              report) -> None:
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
    con.execute("insert or replace into raw.catalog_lookups values (?, ?, ?, ?)", [kind, item, found, utc_now()])


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
                   report) -> list[str]:
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
                       [utc_now() - timedelta(days=refresh_days), artist_id]).fetchone() == (True,)


def _fetch_artist(con: duckdb.DuckDBPyConnection, api: SpotifyApi, artist_id: str, report) -> None:
    artist = _get(api, f"artist {artist_id}", api.client.artist, artist_id) or {}
    genres = [g for g in artist.get("genres") or [] if isinstance(g, str)]
    name = artist.get("name") if isinstance(artist.get("name"), str) else None
    con.execute("update raw.artists set genres = ?, artist_name = coalesce(?, artist_name), loaded_at = ? "
                "where artist_id = ?", [genres, name, utc_now(), artist_id])
    report.artists_fetched += 1
