"""The demo catalogue (rule 1): artists, tracks and audio features by mood family, and how a
track of a family is picked."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ingest.demo.rules import GENRES_BY_MOOD, MOOD_PROFILES

_WORDS = (
    "Silver Night Echo River Neon Velvet Golden Paper Glass Northern Midnight Wild Quiet "
    "Electric Hollow Crimson Ocean Static Lunar Amber Desert Winter Rose Iron Blue Falling"
).split()


@dataclass(frozen=True)
class Catalog:
    tracks: list[dict]
    artists: list[dict]
    audio_features: list[dict]
    track_ids_by_genre: dict[str, list[str]]
    mood_of_track: dict[str, str]
    duration_of_track: dict[str, int]


def _spotify_id(rng: np.random.Generator) -> str:
    alphabet = np.array(list("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"))
    return "".join(rng.choice(alphabet, 22))


def _name(rng: np.random.Generator, words: int) -> str:
    return " ".join(rng.choice(_WORDS, words, replace=False))


def build_catalog(seed: int, artists_per_genre: int = 15, tracks_per_artist: int = 12) -> Catalog:
    rng = np.random.default_rng(seed)
    tracks, artists, features = [], [], []
    by_genre: dict[str, list[str]] = {g: [] for gs in GENRES_BY_MOOD.values() for g in gs}
    mood_of_track, duration_of_track = {}, {}
    for mood, genres in GENRES_BY_MOOD.items():
        profile = MOOD_PROFILES[mood]
        for genre in genres:
            for _ in range(artists_per_genre):
                artist_id = _spotify_id(rng)
                artist_genres = [genre] + ([g for g in genres if g != genre] if rng.random() < 0.3 else [])
                artist_name = _name(rng, 2)
                artists.append({"artist_id": artist_id, "artist_name": artist_name, "genres": artist_genres})
                album_id, album_name = _spotify_id(rng), _name(rng, 2)
                for _ in range(tracks_per_artist):
                    track_id = _spotify_id(rng)
                    duration = int(np.clip(rng.normal(215_000, 40_000), 90_000, 420_000))
                    tracks.append({
                        "track_id": track_id, "track_name": _name(rng, 3), "album_id": album_id,
                        "album_name": album_name, "album_image_url": None, "duration_ms": duration,
                        "artist_ids": [artist_id], "artist_names": [artist_name],
                    })
                    row = {"track_id": track_id}
                    for feature, mean in profile.items():
                        if feature == "tempo":
                            row["tempo"] = float(rng.normal(mean, 10))
                        else:  # Beta with this mean and concentration 14
                            row[feature] = float(rng.beta(mean * 14, (1 - mean) * 14))
                    row.update(speechiness=float(rng.beta(1.5, 12)), liveness=float(rng.beta(2, 10)),
                               loudness=float(-14 + 10 * row["energy"] + rng.normal(0, 1.5)))
                    features.append(row)
                    by_genre[genre].append(track_id)
                    mood_of_track[track_id] = mood
                    duration_of_track[track_id] = duration
    return Catalog(tracks, artists, features, by_genre, mood_of_track, duration_of_track)


def _track_weights(count: int) -> np.ndarray:
    """Zipf-like favourites: a few tracks of each genre come back often."""
    weights = 1.0 / np.arange(1, count + 1) ** 0.8
    return weights / weights.sum()


def pick_track(rng: np.random.Generator, catalog: Catalog, mood: str) -> str:
    genre = GENRES_BY_MOOD[mood][rng.integers(2)]
    candidates = catalog.track_ids_by_genre[genre]
    return candidates[rng.choice(len(candidates), p=_track_weights(len(candidates)))]


def track_probabilities(catalog: Catalog, mood: str) -> dict[str, float]:
    """P(track | the mood family was drawn): what _pick_track does, as numbers."""
    found = {}
    for genre in GENRES_BY_MOOD[mood]:
        candidates = catalog.track_ids_by_genre[genre]
        for track_id, weight in zip(candidates, _track_weights(len(candidates))):
            found[track_id] = found.get(track_id, 0.0) + weight / len(GENRES_BY_MOOD[mood])
    return found
