"""Incremental recently-played: every play newer than the newest one stored, landed once.

The cursor is the listener's newest `raw.plays.played_at` among the plays the API itself returned
(Unix ms; an imported record, even a broken one dated 2099, cannot move it), read from the
warehouse at the start of each run, so a run that stops early (rate limit, crash between fetch and
load) simply leaves it where it was; the next run asks again from the same point, and the
loader's key (listener, track, played_at) makes any overlap harmless.

Spotify's played_at is when the play was registered, which we treat as its end, like the
privacy export's `ts`. The API does not say how long a play lasted (only plays over 30 s are
listed), so `ms_played` is the track's duration and `skipped` is unknown.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import duckdb

from ingest.spotify.client import SpotifyApi
from warehouse.loaders import RawBatch, latest_played_at_ms
from warehouse.settings import ListenerConfig

SOURCE = "spotify_api"
PAGE_SIZE = 50  # the API's maximum
SPOTIFY_ID = re.compile(r"^[0-9A-Za-z]{22}$")


@dataclass
class FetchResult:
    items: list[dict] = field(default_factory=list)
    pages: int = 0


EPOCH = datetime(1970, 1, 1)


def played_at_ms(item) -> int | None:
    """`played_at` in Unix ms, exactly (the cursor is compared with it)."""
    played = _played_at(item)
    return None if played is None else (played - EPOCH) // timedelta(milliseconds=1)


def _played_at(item) -> datetime | None:
    """`played_at` as naive UTC, or None when the item has none that parses."""
    text = item.get("played_at") if isinstance(item, dict) else None
    if not isinstance(text, str):
        return None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return None
    return parsed.astimezone(timezone.utc).replace(tzinfo=None)


def fetch_new_items(api: SpotifyApi, cursor_ms: int | None, max_pages: int) -> FetchResult:
    """All recently-played items after `cursor_ms`. Pages with `after` = the newest item seen
    until a round brings nothing new; within a round it follows the server's `next` links as
    long as they bring new items (Spotify's point backwards in time, with `before`)."""
    result, seen, after = FetchResult(), set(), cursor_ms

    def take(page) -> int:
        fresh = 0
        for item in (page or {}).get("items") or []:
            ms = played_at_ms(item)
            if ms is not None and cursor_ms is not None and ms <= cursor_ms:
                continue
            key = json.dumps(item, sort_keys=True) if ms is None else (_track_id(item), ms)
            if key not in seen:
                seen.add(key)
                result.items.append(item)
                fresh += 1
        return fresh

    while result.pages < max_pages:
        before_round = len(result.items)
        page = api.call("recently-played", api.client.current_user_recently_played, limit=PAGE_SIZE, after=after)
        result.pages += 1
        while take(page) and page.get("next") and result.pages < max_pages:
            page = api.call("recently-played next page", api.client.next, page)
            result.pages += 1
        if len(result.items) == before_round:
            break
        after = max((ms for item in result.items if (ms := played_at_ms(item)) is not None), default=after)
    else:
        api.events.append(f"recently-played: stopped after SPOTIFY_BRAIN_MAX_PAGES={max_pages} pages")
    return result


def _track_id(item) -> str | None:
    track = item.get("track") if isinstance(item, dict) else None
    return track.get("id") if isinstance(track, dict) else None


def _reject(batch: RawBatch, number: int, item, reason: str) -> None:
    batch.rejected.append({"record_ref": f"recently-played item #{number}", "reason": reason,
                           "payload": json.dumps(item, ensure_ascii=False, default=str)[:2000]})


def items_to_batch(items: list, listener: ListenerConfig) -> RawBatch:
    """Plays, tracks and artists of recently-played items; malformed items are rejected with the reason."""
    batch = RawBatch(source=SOURCE, listener_id=listener.listener_id, listeners=[{
        "listener_id": listener.listener_id, "display_name": listener.display_name, "timezone": listener.timezone}])
    for number, item in enumerate(items):
        track = item.get("track") if isinstance(item, dict) else None
        if not isinstance(track, dict):
            _reject(batch, number, item, "item has no track object")
            continue
        if track.get("type") == "episode":
            batch.set_aside += 1
            continue
        if track.get("is_local"):
            _reject(batch, number, item, "local file: no Spotify track id")
            continue
        track_id, played_at, duration = track.get("id"), _played_at(item), track.get("duration_ms")
        if not isinstance(track_id, str) or not SPOTIFY_ID.match(track_id):
            _reject(batch, number, item, f"track id is not a Spotify id: {track_id!r}")
        elif played_at is None:
            _reject(batch, number, item, f"played_at is not an ISO 8601 time with zone: {item.get('played_at')!r}")
        elif isinstance(duration, bool) or not isinstance(duration, int) or not 0 <= duration < 2**31:
            _reject(batch, number, item, f"track duration_ms is not a non-negative integer: {duration!r}")
        else:
            _add_play(batch, listener.listener_id, item, track, played_at)
    return batch


def _add_play(batch: RawBatch, listener_id: str, item: dict, track: dict, played_at: datetime) -> None:
    context = item.get("context") if isinstance(item.get("context"), dict) else {}
    album = track.get("album") if isinstance(track.get("album"), dict) else {}
    images = [i for i in album.get("images") or [] if isinstance(i, dict) and i.get("url")]
    artists = [a for a in track.get("artists") or [] if isinstance(a, dict) and a.get("id")]
    batch.plays.append({
        "listener_id": listener_id, "track_id": track["id"], "played_at": played_at,
        "ms_played": track["duration_ms"], "skipped": None, "reason_start": None, "reason_end": None,
        "shuffle": None, "context_uri": context.get("uri"), "platform": None,
    })
    batch.tracks.append({
        "track_id": track["id"], "track_name": track.get("name"), "album_id": album.get("id"),
        "album_name": album.get("name"), "album_image_url": images[0]["url"] if images else None,
        "duration_ms": track["duration_ms"], "artist_ids": [a["id"] for a in artists] or None,
        "artist_names": [a.get("name") for a in artists] or None,
    })
    for artist in artists:  # genres come later, from single-artist calls (enrichment)
        batch.artists.append({"artist_id": artist["id"], "artist_name": artist.get("name"), "genres": None})


def pull_new_plays(con: duckdb.DuckDBPyConnection, api: SpotifyApi, max_pages: int) -> tuple[RawBatch, int]:
    """Fetch everything after the stored cursor into one batch (loaded in one transaction by the caller)."""
    cursor = latest_played_at_ms(con, api.listener.listener_id, SOURCE)
    fetched = fetch_new_items(api, cursor, max_pages)
    batch = items_to_batch(fetched.items, api.listener)
    return batch, fetched.pages
