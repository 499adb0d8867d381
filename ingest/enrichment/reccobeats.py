"""ReccoBeats: audio features by Spotify id, keyless, a few dozen ids a request.

`GET /v1/audio-features?ids=...` answers {"content": [{"id": <ReccoBeats' own id>, "href":
"https://open.spotify.com/track/<Spotify id>", "danceability", "energy", ...}]}; an id it does not
know is simply absent."""

from __future__ import annotations

import re
import time

from ingest.enrichment.http import Provider, ProviderStopped
from warehouse.loaders import FEATURE_COLUMNS
from warehouse.settings import Settings

RECCOBEATS_BATCH = 40
TRACK_IN_URL = re.compile(r"track[/:]([0-9A-Za-z]{22})")


def features_of(record: dict) -> dict | None:
    """The feature columns of a provider's record, as floats; None if it has none usable."""
    values = {}
    for column in FEATURE_COLUMNS:
        value = record.get(column)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            values[column] = float(value)
    return values or None


def from_reccobeats(settings: Settings, wanted: list[str], sleep=time.sleep) -> tuple[dict[str, dict], list[str],
                                                                                       Provider]:
    """(features by Spotify id, the ids asked, the provider and what it did): ReccoBeats answers
    with its own ids; the Spotify id is in each record's `href`. Stopped early, what was asked so
    far counts and the rest waits for the next run."""
    batches = -(-len(wanted) // RECCOBEATS_BATCH)
    provider = Provider("ReccoBeats", settings, min_interval_s=0.2, budget=batches, sleep=sleep)
    found: dict[str, dict] = {}
    asked: list[str] = []
    url = f"{settings.reccobeats_api_base_url}/v1/audio-features"
    try:
        for start in range(0, len(wanted), RECCOBEATS_BATCH):
            chunk = wanted[start:start + RECCOBEATS_BATCH]
            status, body = provider.get(url, {"ids": ",".join(chunk)})
            if status != 200:
                raise ProviderStopped("unreachable" if status >= 500 else "refused",
                                      f"ReccoBeats answered HTTP {status}: stopped, the rest next run")
            records = body.get("content", body.get("audio_features", [])) if isinstance(body, dict) else []
            for record in records if isinstance(records, list) else []:
                if not isinstance(record, dict):
                    continue
                match = TRACK_IN_URL.search(str(record.get("href") or "")) or TRACK_IN_URL.search(
                    f"track:{record.get('id')}")
                features = features_of(record)
                if match and match.group(1) in chunk and features:
                    found[match.group(1)] = features
            asked += chunk
    except ProviderStopped as exc:
        provider.report.stopped, provider.report.unreachable = str(exc), exc.kind == "unreachable"
        provider.report.events.append(str(exc))
    provider.report.asked, provider.report.found = len(asked), len(found)
    return found, asked, provider


def recommend(provider: Provider, settings: Settings, seeds: list[str], targets: dict[str, float],
              size: int) -> list[dict]:
    """Tracks ReccoBeats recommends for up to five seed tracks (Spotify ids), steered toward the
    `targets` audio features: [{track_id (Spotify's), track_name, artist_name}], in its order.

    `GET /v1/track/recommendation?seeds=...&size=...&valence=...` answers {"content": [track, ...]}
    with each track as ReccoBeats documents it: {id, trackTitle, artists: [{id, name, href}],
    durationMs, isrc, ean, upc, href: "https://open.spotify.com/track/<id>", availableCountries,
    popularity}. Raises ProviderStopped when it cannot be asked."""
    status, body = provider.get(f"{settings.reccobeats_api_base_url}/v1/track/recommendation",
                                {"seeds": ",".join(seeds[:5]), "size": size, **targets})
    if status != 200:
        raise ProviderStopped("unreachable" if status >= 500 else "refused",
                              f"ReccoBeats answered HTTP {status} to a recommendation request")
    found = []
    for track in body.get("content", []) if isinstance(body, dict) else []:
        match = TRACK_IN_URL.search(str(track.get("href") or "")) if isinstance(track, dict) else None
        if match:
            artists = [a.get("name") for a in track.get("artists") or [] if isinstance(a, dict) and a.get("name")]
            found.append({"track_id": match.group(1), "track_name": track.get("trackTitle"),
                          "artist_name": artists[0] if artists else None})
    return found
