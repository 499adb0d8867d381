"""Files the demo writes: a data download shaped like Spotify's extended streaming history (a
stand-in for a real person's, no real data), new plays to import later, and the catalogue's
audio features as a CSV."""

from __future__ import annotations

import csv
import json
from datetime import date, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from ingest.demo.catalog import Catalog, build_catalog
from ingest.demo.generator import generate_plays
from ingest.demo.rules import DEFAULT_END
from ingest.demo.truth import Truth

def write_data_download(folder: Path, records: int, per_file: int = 100_000, seed: int = 42,
                         end: date = DEFAULT_END, truth: Truth | None = None) -> list[Path]:
    """Files shaped like Spotify's extended streaming history (`Streaming_History_Audio_*.json`):
    the `records` most recent plays of a demo listener whose history ends on `end`, oldest first.
    A stand-in for a real person's export (no real data); private fields a real export has (IP
    address, country) are filled with documentation values, so an import proves it drops them.
    With `truth`, what the generator knew is recorded there (rule 9)."""
    catalog = build_catalog(seed)
    plays, years = [], 0
    while len(plays) < records:  # more demo years, further back, until there are enough plays
        plays = generate_plays(catalog, "export", ZoneInfo("Europe/Berlin"), 365, seed=100 + years,
                               end=end - timedelta(days=365 * years), truth=truth) + plays
        years += 1
    return _write_download(folder, plays[-records:], catalog, per_file)


def write_new_plays(folder: Path, plays: int, after: date, seed: int = 42) -> list[Path]:
    """An export of the first `plays` plays after the day `after`: what a listener adds later."""
    catalog = build_catalog(seed)
    new = generate_plays(catalog, "export", ZoneInfo("Europe/Berlin"), 3, seed=seed + after.toordinal(),
                         end=after + timedelta(days=3))
    return _write_download(folder, new[:plays], catalog, plays)


def _write_download(folder: Path, plays: list[dict], catalog: Catalog, per_file: int) -> list[Path]:
    names = {t["track_id"]: t for t in catalog.tracks}
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for number, start in enumerate(range(0, len(plays), per_file)):
        rows = []
        for play in plays[start:start + per_file]:
            track = names[play["track_id"]]
            rows.append({
                "ts": play["played_at"].strftime("%Y-%m-%dT%H:%M:%SZ"), "platform": "android",
                "ms_played": play["ms_played"], "conn_country": "DE", "ip_addr": "192.0.2.1",
                "master_metadata_track_name": track["track_name"],
                "master_metadata_album_artist_name": track["artist_names"][0],
                "master_metadata_album_album_name": track["album_name"],
                "spotify_track_uri": f"spotify:track:{play['track_id']}",
                "episode_name": None, "episode_show_name": None, "spotify_episode_uri": None,
                "reason_start": play["reason_start"], "reason_end": play["reason_end"], "shuffle": play["shuffle"],
                "skipped": play["skipped"], "offline": False, "offline_timestamp": None, "incognito_mode": False,
            })
        path = folder / f"Streaming_History_Audio_{number:03d}.json"
        path.write_text(json.dumps(rows))
        paths.append(path)
    return paths


def write_features_file(path: Path, seed: int = 42) -> Path:
    """The demo catalogue's audio features as a CSV for SPOTIFY_BRAIN_AUDIO_FEATURES=file."""
    features = build_catalog(seed).audio_features
    columns = list(features[0])
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=columns)
        writer.writeheader()
        writer.writerows(features)
    return path
