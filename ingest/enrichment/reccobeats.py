"""ReccoBeats: audio features by Spotify id, keyless, a few dozen ids a call."""

from __future__ import annotations

import re
import time

import requests

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


def from_reccobeats(settings: Settings, wanted: list[str], report,
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
            features = features_of(record)
            if match and match.group(1) in chunk and features:
                found[match.group(1)] = features
        asked += chunk
    return found, asked


def _get_json(url: str, params: dict, settings: Settings, report, sleep):
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
