"""A fake Spotify (accounts + Web API) and ReccoBeats on 127.0.0.1, for the real spotipy client.

It keeps a listening history and serves it like Spotify does: recently-played shows only the
last `window` plays, at most `limit` per page, newest first; with `after` its `next` link
pages forward, without it backwards (`before`), as Spotify's does. Faults are
scripted per path prefix: `fail_next("/v1/me/player", 429, {"Retry-After": "1"})`.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

CLIENT_ID, CLIENT_SECRET = "test-client", "test-secret"


def track_object(track_id: str, name: str, artist_id: str, duration_ms: int = 200_000) -> dict:
    return {
        "id": track_id, "name": name, "type": "track", "is_local": False, "duration_ms": duration_ms,
        "album": {"id": "A" * 22, "name": f"Album of {name}", "images": [{"url": f"https://i.example/{track_id}.jpg"}]},
        "artists": [{"id": artist_id, "name": f"Artist {artist_id[:4]}"}],
    }


class FakeSpotify:
    def __init__(self, window: int = 50):
        self.window = window
        self.history: list[dict] = []          # every item ever played, any order
        self.artists: dict[str, dict] = {}
        self.features: dict[str, dict] = {}    # ReccoBeats knows these tracks
        self.tracks: dict[str, dict] = {}      # the catalogue behind GET /v1/tracks/{id}
        self.refresh_tokens = {"rt-initial"}
        self.access_tokens: set[str] = set()
        self.rotate_on_refresh = False
        self.faults: list[tuple[str, int, dict, object, float]] = []
        self.requests: list[str] = []
        self.issued = 0
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # --- scripting -------------------------------------------------------------------------
    def play(self, track_id: str, played_at: datetime, artist_id: str = "B" * 22, name: str = "Song") -> dict:
        self.tracks.setdefault(track_id, track_object(track_id, name, artist_id))
        item = {"track": track_object(track_id, name, artist_id),
                "played_at": played_at.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
                "context": {"type": "playlist", "uri": "spotify:playlist:" + "P" * 22}}
        self.artists.setdefault(artist_id, {"id": artist_id, "name": f"Artist {artist_id[:4]}", "genres": ["indie"]})
        with self.lock:
            self.history.append(item)
        return item

    def add_raw_item(self, item) -> None:
        with self.lock:
            self.history.append(item)

    def fail_next(self, prefix: str, status: int, headers: dict | None = None, body=None, times: int = 1,
                  delay: float = 0.0) -> None:
        for _ in range(times):
            self.faults.append((prefix, status, headers or {}, body, delay))

    def expire_access_tokens(self) -> None:
        self.access_tokens.clear()

    def revoke_refresh_tokens(self) -> None:
        self.refresh_tokens.clear()

    # --- serving ---------------------------------------------------------------------------
    def _visible(self) -> list[dict]:
        dated = [i for i in self.history if isinstance(i, dict) and isinstance(i.get("played_at"), str)
                 and i["played_at"].endswith("Z")]
        dated.sort(key=lambda i: i["played_at"])
        odd = [i for i in self.history if i not in dated]
        return (dated + odd)[-self.window:]

    def recently_played(self, query: dict) -> dict:
        limit = int(query.get("limit", ["20"])[0])
        after = int(query["after"][0]) if "after" in query else None

        def ms(item):
            try:
                return int(datetime.fromisoformat(item["played_at"].replace("Z", "+00:00")).timestamp() * 1000)
            except (KeyError, TypeError, ValueError, AttributeError):
                return None

        with self.lock:
            visible = self._visible()
        if after is not None:  # the oldest `limit` plays after the cursor; `next` pages forward
            newer = [i for i in visible if (ms(i) or after + 1) > after]
            page, more = newer[:limit], len(newer) > limit
        else:  # the newest `limit` plays (before the cursor, if given); `next` pages backwards
            before = int(query["before"][0]) if "before" in query else None
            older = [i for i in visible if before is None or (ms(i) or before) < before]
            page, more = older[-limit:], len(older) > limit
        stamps = [m for i in page if (m := ms(i)) is not None]
        next_url = None
        if more and stamps:
            cursor = f"after={max(stamps)}" if after is not None else f"before={min(stamps)}"
            next_url = f"{self.url}/v1/me/player/recently-played?{cursor}&limit={limit}"
        return {
            "items": list(reversed(page)), "limit": limit, "next": next_url,
            "cursors": {"after": str(max(stamps)), "before": str(min(stamps))} if stamps else None,
            "href": f"{self.url}/v1/me/player/recently-played",
        }

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _send(self, status: int, body=None, headers: dict | None = None) -> None:
                data = json.dumps(body).encode() if body is not None else b""
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

            def _fault(self, path: str) -> bool:
                with fake.lock:
                    for index, (prefix, status, headers, body, delay) in enumerate(fake.faults):
                        if path.startswith(prefix):
                            del fake.faults[index]
                            break
                    else:
                        return False
                time.sleep(delay)
                self._send(status, body if body is not None else {"error": {"status": status, "message": "fault"}},
                           headers)
                return True

            def do_POST(self):
                url = urlparse(self.path)
                fake.requests.append(f"POST {url.path}")
                if self._fault(url.path):
                    return
                form = parse_qs(self.rfile.read(int(self.headers.get("Content-Length", 0))).decode())
                expected = "Basic " + base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
                if self.headers.get("Authorization") != expected:
                    return self._send(400, {"error": "invalid_client", "error_description": "Invalid client"})
                grant = form.get("grant_type", [""])[0]
                if grant == "client_credentials":  # app-only token, for the catalogue
                    fake.issued += 1
                    fake.access_tokens.add(f"app-{fake.issued}")
                    return self._send(200, {"access_token": f"app-{fake.issued}", "token_type": "Bearer",
                                            "expires_in": 3600})
                if grant == "authorization_code":
                    fake.refresh_tokens.add("rt-from-code")
                    refresh = "rt-from-code"
                elif form.get("refresh_token", [""])[0] in fake.refresh_tokens:
                    refresh = form["refresh_token"][0]
                else:
                    return self._send(400, {"error": "invalid_grant", "error_description": "Refresh token revoked"})
                fake.issued += 1
                access = f"at-{fake.issued}"
                fake.access_tokens.add(access)
                body = {"access_token": access, "token_type": "Bearer", "expires_in": 3600,
                        "scope": "user-read-recently-played"}
                if grant == "authorization_code":
                    body["refresh_token"] = refresh
                elif fake.rotate_on_refresh:
                    fake.refresh_tokens.discard(refresh)
                    body["refresh_token"] = f"rt-rotated-{fake.issued}"
                    fake.refresh_tokens.add(body["refresh_token"])
                self._send(200, body)

            def do_GET(self):
                url = urlparse(self.path)
                fake.requests.append(f"GET {url.path}")
                if self._fault(url.path):
                    return
                query = parse_qs(url.query)
                if url.path == "/reccobeats/v1/audio-features":
                    ids = query.get("ids", [""])[0].split(",")
                    return self._send(200, {"content": [
                        {"id": f"rb-{i}", "href": f"https://open.spotify.com/track/{i}", **fake.features[i]}
                        for i in ids if i in fake.features]})
                token = (self.headers.get("Authorization") or "").removeprefix("Bearer ")
                if token not in fake.access_tokens:
                    return self._send(401, {"error": {"status": 401, "message": "The access token expired"}})
                if url.path == "/v1/me/player/recently-played":
                    return self._send(200, fake.recently_played(query))
                if url.path.startswith("/v1/tracks/"):
                    found = fake.tracks.get(url.path.rsplit("/", 1)[-1])
                    return self._send(200, found) if found else self._send(404, {"error": {"status": 404}})
                if url.path.startswith("/v1/artists/"):
                    artist = fake.artists.get(url.path.rsplit("/", 1)[-1])
                    return self._send(200, artist) if artist else self._send(404, {"error": {"status": 404}})
                self._send(404, {"error": {"status": 404, "message": "not found"}})

        return Handler


def minutes_ago(minutes: float) -> datetime:
    return datetime.now(timezone.utc) - timedelta(minutes=minutes)
