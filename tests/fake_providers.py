"""Fakes of the keyless providers on 127.0.0.1, answering as each one documents it:

- ListenBrainz `GET /1/metadata/lookup/` (listenbrainz/webserver/views/metadata_api.py): `{}` when
  nothing matches, else the match with `metadata` shaped like listenbrainz/testdata/
  mb_metadata_cache_example.json; 400 without artist_name or recording_name;
- ListenBrainz Labs `POST /spotify-id-from-metadata/json` (listenbrainz/labs_api/labs/api/spotify/):
  the rows asked, in order, each with `spotify_track_ids`;
- Spotify `GET /oembed?url=` (Spotify's oEmbed API reference): html, width, height, version,
  provider_name, provider_url, type, title, thumbnail_url, thumbnail_width, thumbnail_height; 404
  for an unknown track;
- ReccoBeats `GET /v1/audio-features?ids=`: {"content": [{"id", "href", features...}]}, and
  `GET /v1/track/recommendation?seeds=&size=&<feature targets>`: {"content": [track, ...]}, each
  track as ReccoBeats' request-and-response page shows one (id, trackTitle, artists [{id, name,
  href}], durationMs, isrc, ean, upc, href, availableCountries, popularity). What it recommends is
  made up on the spot: `near` tracks whose features are the targets asked for, one far from them,
  and the first seed (a track the listener knows), so a test can tell what was kept and why.

Faults are scripted per path prefix, as in fake_spotify.py: `fail_next("/listenbrainz", 429,
{"X-RateLimit-Reset-In": "2"})`. Every request is kept in `requests`.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse


def mbid(n: int) -> str:
    return f"00000000-0000-4000-8000-{n:012d}"


class FakeProviders:
    def __init__(self):
        self.recordings: dict[tuple[str, str], dict] = {}   # (artist, track) lower-cased -> lookup answer
        self.spotify_ids: dict[tuple[str, str], str] = {}   # (artist, track) lower-cased -> Spotify id
        self.oembed: dict[str, str] = {}                      # Spotify id -> thumbnail url
        self.features: dict[str, dict] = {}                   # Spotify id -> audio features
        self.near = 3                                         # recommendations near the targets asked
        self.recommendation_targets: list[dict] = []          # the feature targets of each request
        self.faults: list[tuple[str, int, dict, object]] = []
        self.requests: list[str] = []
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def env(self) -> dict[str, str]:
        """The settings that point the enrichment at these fakes."""
        return {"SPOTIFY_BRAIN_KEYLESS_LOOKUPS": "true", "LISTENBRAINZ_API_BASE_URL": f"{self.url}/listenbrainz",
                "LISTENBRAINZ_LABS_BASE_URL": f"{self.url}/labs", "SPOTIFY_OEMBED_BASE_URL": f"{self.url}/spotify",
                "RECCOBEATS_API_BASE_URL": f"{self.url}/reccobeats", "SPOTIFY_BRAIN_AUDIO_FEATURES": "reccobeats"}

    # --- scripting -------------------------------------------------------------------------
    def knows_recording(self, artist: str, track: str, number: int, genres: list[tuple[str, int]], year: int = 2001,
                        caa: bool = True, recording_genres: list[str] = ()) -> None:
        """ListenBrainz knows this artist and track: recording `number`, the artist's genres with
        their votes (each with a genre_mbid; one tag without, which is not a genre), a release."""
        artist_mbid = mbid(1000 + number)
        self.recordings[(artist.lower(), track.lower())] = {
            "recording_mbid": mbid(number), "release_mbid": mbid(2000 + number), "artist_mbids": [artist_mbid],
            "recording_name": track, "release_name": f"Release {number}", "artist_credit_name": artist,
            "metadata": {
                "recording": {"rels": []},
                "release": {"album_artist_name": artist, "caa_id": 900000 + number if caa else None,
                            "caa_release_mbid": mbid(2000 + number) if caa else None, "mbid": mbid(2000 + number),
                            "name": f"Release {number}", "release_group_mbid": mbid(3000 + number), "year": year},
                "artist": {"artist_credit_id": number, "name": artist, "artists": [
                    {"area": "Nowhere", "artist_mbid": artist_mbid, "begin_year": 1990, "join_phrase": "",
                     "name": artist, "rels": {}, "type": "Group"}]},
                "tag": {
                    "recording": [{"count": 2, "genre_mbid": mbid(5000 + i), "tag": g}
                                  for i, g in enumerate(recording_genres)],
                    "artist": [{"artist_mbid": artist_mbid, "count": votes, "genre_mbid": mbid(4000 + i), "tag": g}
                               for i, (g, votes) in enumerate(genres)]
                              + [{"artist_mbid": artist_mbid, "count": 50, "tag": "seen live"}],
                    "release_group": [],
                },
            },
        }

    def fail_next(self, prefix: str, status: int, headers: dict | None = None, body=None, times: int = 1) -> None:
        for _ in range(times):
            self.faults.append((prefix, status, headers or {}, body))

    def recommend(self, query: dict) -> list[dict]:
        targets = {k: float(v) for k, v in query.items() if k not in ("seeds", "size")}
        self.recommendation_targets.append(targets)
        made = len(self.recommendation_targets)
        near = {f"R{made:02d}{k:019d}": {**targets, "speechiness": 0.05, "liveness": 0.1, "loudness": -8.0}
                for k in range(self.near)}
        far = {f"F{made:02d}{0:019d}": {**{k: 1 - v for k, v in targets.items() if k != "tempo"},
                                         "tempo": 250 - targets.get("tempo", 120)}}
        for track_id, features in (near | far).items():
            self.features[track_id] = features
        seed = query.get("seeds", "").split(",")[0]
        return [{"id": f"rb-{track_id}", "trackTitle": f"Song {track_id[:4]}",
                 "artists": [{"id": "rb-artist", "name": "Someone New", "href": "https://open.spotify.com/artist/x"}],
                 "durationMs": 200000, "isrc": None, "ean": None, "upc": None,
                 "href": f"https://open.spotify.com/track/{track_id}", "availableCountries": "ZZ", "popularity": 40}
                for track_id in [*near, *far, seed] if track_id]

    # --- serving ---------------------------------------------------------------------------
    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _send(self, status: int, body, headers: dict | None = None) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _fault(self, path: str) -> bool:
                for i, (prefix, status, headers, body) in enumerate(fake.faults):
                    if path.startswith(prefix):
                        del fake.faults[i]
                        self._send(status, body if body is not None else {"code": status, "error": "fault"}, headers)
                        return True
                return False

            def do_GET(self):
                url = urlparse(self.path)
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                fake.requests.append(f"GET {url.path} {query.get('recording_name') or query.get('url') or ''}".strip())
                if self._fault(url.path):
                    return
                if url.path == "/listenbrainz/1/metadata/lookup/":
                    if not query.get("artist_name") or not query.get("recording_name"):
                        return self._send(400, {"code": 400, "error": "artist_name is invalid or not present"})
                    found = fake.recordings.get((query["artist_name"].lower(), query["recording_name"].lower()))
                    answer = dict(found) if found else {}
                    if found and query.get("metadata") != "true":
                        answer.pop("metadata")
                    return self._send(200, answer, {"X-RateLimit-Limit": "50", "X-RateLimit-Remaining": "49",
                                                    "X-RateLimit-Reset-In": "10"})
                if url.path == "/spotify/oembed":
                    track = query.get("url", "").rsplit("/", 1)[-1]
                    if track not in fake.oembed:
                        return self._send(404, {"error": "not found"})
                    return self._send(200, {
                        "html": f'<iframe src="https://open.spotify.com/embed/track/{track}"></iframe>',
                        "width": 456, "height": 152, "version": "1.0", "provider_name": "Spotify",
                        "provider_url": "https://spotify.com", "type": "rich", "title": "A track",
                        "thumbnail_url": fake.oembed[track], "thumbnail_width": 300, "thumbnail_height": 300})
                if url.path == "/reccobeats/v1/track/recommendation":
                    return self._send(200, {"content": fake.recommend(query)})
                if url.path == "/reccobeats/v1/audio-features":
                    ids = query.get("ids", "").split(",")
                    return self._send(200, {"content": [
                        {"id": f"rb-{i}", "href": f"https://open.spotify.com/track/{i}", **fake.features[i]}
                        for i in ids if i in fake.features]})
                self._send(404, {"error": "no such endpoint"})

            def do_POST(self):
                url = urlparse(self.path)
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"null")
                fake.requests.append(f"POST {url.path} {len(body) if isinstance(body, list) else ''}".strip())
                if self._fault(url.path):
                    return
                if url.path == "/labs/spotify-id-from-metadata/json":
                    if not isinstance(body, list) or any(
                            not isinstance(row, dict) or {"artist_name", "release_name", "track_name"} - set(row)
                            for row in body):
                        return self._send(400, {"error": "artist_name, release_name and track_name are required"})
                    rows = []
                    for row in body:
                        found = fake.spotify_ids.get((row["artist_name"].lower(), row["track_name"].lower()))
                        rows.append({**row, "spotify_track_ids": [found] if found else []})
                    return self._send(200, rows)
                self._send(404, {"error": "no such endpoint"})

        return Handler
