"""A spotipy client for unattended runs: never prompts, never sleeps for hours, keeps rotated tokens.

spotipy's own retry (urllib3) honours any `Retry-After`, however long, so it is switched off
(a plain requests session, no retry adapter) and `SpotifyApi.call` decides instead:
429 waits `Retry-After` up to SPOTIFY_BRAIN_MAX_RETRY_AFTER, then stops the run cleanly;
5xx and timeouts retry a few times with backoff; 401 refreshes the access token once;
`invalid_grant` means the refresh token is dead (six months after the user authorised).
Every fault handled is kept in `events`, which the ingest run records.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import requests
import spotipy
from spotipy.cache_handler import CacheHandler, MemoryCacheHandler
from spotipy.oauth2 import SpotifyClientCredentials, SpotifyOauthError

from ingest.network import offline_reason
from warehouse.settings import ListenerConfig, Settings

# Only what ingestion needs; artists and tracks are public catalogue calls.
SCOPES = "user-read-recently-played"
# spotipy logs request headers (the bearer token) at DEBUG: never let that through
logging.getLogger("spotipy").setLevel(logging.INFO)


class SpotifyAuthExpiredError(RuntimeError):
    """The refresh token was refused (`invalid_grant`): the user must authorise again."""


class SpotifyAuthError(RuntimeError):
    """The app credentials were refused."""


class SpotifyRateLimitedError(RuntimeError):
    """Spotify asked to wait longer than we are willing to: the run stops, the cursor stays."""


class SpotifyUnavailableError(RuntimeError):
    """Server errors or timeouts outlasted the retries."""


class BudgetSpentError(RuntimeError):
    """This run's share of Spotify calls is used up; the rest waits for the next run."""


# what ends a run's Spotify lookups cleanly: the rest waits for the next run
STOPPED = (SpotifyRateLimitedError, SpotifyUnavailableError, BudgetSpentError)


class CallBudget:
    """How many more Spotify calls this run may make (None: no limit)."""

    def __init__(self, calls: int | None):
        self.left, self.spent = calls, 0

    def spend(self) -> None:
        if self.left is not None and self.left <= 0:
            raise BudgetSpentError(f"this run's {self.spent} Spotify call(s) are used up; the rest continues next run")
        self.spent += 1
        if self.left is not None:
            self.left -= 1


def refusal_hint(status: int | None, message: str = "") -> str:
    """What a person can do about a 4xx from Spotify."""
    if status == 403 and "registered" in message.lower():
        return ("the account is not registered in the app's Developer Dashboard (development-mode apps allow "
                "five users, each added under User Management, and need Spotify Premium)")
    if status == 403:
        return ("Spotify refused the request (403): development-mode apps need the user added under User "
                "Management and Spotify Premium; the batch and audio-features endpoints are closed to new apps")
    if status == 404:
        return "Spotify does not know what was asked for (404): check SPOTIFY_API_BASE_URL"
    if status == 400:
        return "Spotify rejected the request (400): check the app settings and SPOTIFY_API_BASE_URL"
    return f"Spotify refused the request (HTTP {status})"


def _fingerprint(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()[:16]


class TokenStore(CacheHandler):
    """spotipy's token cache for one listener, in memory. It starts from the configured refresh
    token, or from a rotated one saved earlier for that same configured token; when Spotify
    rotates the refresh token, the new one is written to the token file (mode 600)."""

    def __init__(self, path: Path, listener: ListenerConfig):
        self.path, self.listener_id = path, listener.listener_id
        configured = listener.refresh_token.get_secret_value() if listener.refresh_token else ""
        if not configured:
            raise SpotifyAuthError(f"{listener.refresh_token_env} is not set: run `spotify-brain auth` to get "
                                   f"a refresh token for listener {listener.listener_id}")
        self.configured = _fingerprint(configured)
        saved = self._saved().get(self.listener_id, {})
        refresh = saved["refresh_token"] if saved.get("configured") == self.configured else configured
        self.token_info = {"access_token": "", "refresh_token": refresh, "expires_at": 0, "scope": SCOPES}
        self.rotated = False

    def _saved(self) -> dict:
        try:
            return json.loads(self.path.read_text())
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise SpotifyAuthError(f"SPOTIFY_BRAIN_TOKEN_FILE={self.path}: cannot read it ({exc})") from None

    def get_cached_token(self) -> dict:
        return self.token_info

    def save_token_to_cache(self, token_info: dict) -> None:
        if token_info.get("refresh_token") != self.token_info.get("refresh_token"):
            self._keep_rotated(token_info["refresh_token"])
        self.token_info = token_info

    def expire_access_token(self) -> None:
        self.token_info = {**self.token_info, "expires_at": 0}

    def _keep_rotated(self, refresh_token: str) -> None:
        saved = self._saved()
        saved[self.listener_id] = {"configured": self.configured, "refresh_token": refresh_token}
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        # a new temp file every time (mkstemp: mode 600): reusing a fixed name would keep the mode
        # of a stale one, 644 say, and rename it over the token file
        handle, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.", suffix=".tmp")
        try:
            with os.fdopen(handle, "w") as out:
                json.dump(saved, out)
            os.replace(temporary, self.path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        self.rotated = True


class HeadlessOAuth(spotipy.SpotifyOAuth):
    """The authorization-code manager with our accounts URL, which refuses to prompt."""

    def __init__(self, settings: Settings, **kwargs):
        super().__init__(
            client_id=settings.spotify_client_id.get_secret_value() if settings.spotify_client_id else None,
            client_secret=settings.spotify_client_secret.get_secret_value() if settings.spotify_client_secret else None,
            redirect_uri=settings.spotify_redirect_uri, scope=SCOPES, open_browser=False,
            requests_timeout=settings.api_timeout_s, **kwargs,
        )
        self.OAUTH_AUTHORIZE_URL = f"{settings.spotify_accounts_base_url}/authorize"
        self.OAUTH_TOKEN_URL = f"{settings.spotify_accounts_base_url}/api/token"

    def get_auth_response(self, open_browser=None):
        raise SpotifyAuthError("no usable refresh token, and a scheduled run cannot ask: run `spotify-brain auth`")


def _retry_after(headers) -> float | None:
    try:
        return float((headers or {}).get("Retry-After"))
    except (TypeError, ValueError):
        return None


def _catalog_auth(settings: Settings, session: requests.Session) -> SpotifyClientCredentials:
    """App-only tokens (client credentials): enough for the catalogue (tracks, artists), no user needed."""
    auth = SpotifyClientCredentials(
        client_id=settings.spotify_client_id.get_secret_value(),
        client_secret=settings.spotify_client_secret.get_secret_value(),
        requests_session=session, requests_timeout=settings.api_timeout_s, cache_handler=MemoryCacheHandler())
    auth.OAUTH_TOKEN_URL = f"{settings.spotify_accounts_base_url}/api/token"
    return auth


class SpotifyApi:
    """spotipy for one listener (their recently-played), or with app-only credentials for the
    catalogue when `listener` is None; every call goes through `call` (the retry policy above)
    and spends from `budget` when one is given."""

    def __init__(self, settings: Settings, listener: ListenerConfig | None,
                 sleep: Callable[[float], None] = time.sleep, budget: CallBudget | None = None):
        if not (settings.spotify_client_id and settings.spotify_client_secret):
            raise SpotifyAuthError("SPOTIFY_CLIENT_ID and SPOTIFY_CLIENT_SECRET must be set for the Spotify source")
        self.settings, self.listener, self.sleep = settings, listener, sleep
        self.budget = budget or CallBudget(None)
        session = requests.Session()  # no retry adapter: `call` decides
        if listener is None:
            self.tokens, self.oauth = None, _catalog_auth(settings, session)
        else:
            self.tokens = TokenStore(settings.token_file, listener)
            self.oauth = HeadlessOAuth(settings, cache_handler=self.tokens, requests_session=session)
        self.client = spotipy.Spotify(auth_manager=self.oauth, requests_session=session,
                                      requests_timeout=settings.api_timeout_s, retries=0, status_retries=0)
        self.client.prefix = f"{settings.spotify_api_base_url}/"
        self.events: list[str] = []

    @property
    def who(self) -> str:
        return f"listener {self.listener.listener_id}" if self.listener else "the app (catalogue calls)"

    def call(self, what: str, fn: Callable, *args, **kwargs):
        """`fn(*args, **kwargs)` with the retry policy; `what` names the call in events and errors."""
        failures, refreshed = 0, False
        while True:
            self.budget.spend()
            try:
                return fn(*args, **kwargs)
            except SpotifyOauthError as exc:
                if exc.error == "invalid_grant":
                    self.events.append(f"{what}: refresh token refused (invalid_grant)")
                    where = self.listener.refresh_token_env if self.listener else "SPOTIFY_REFRESH_TOKEN"
                    raise SpotifyAuthExpiredError(
                        f"Spotify refused the refresh token of {self.who} "
                        f"(invalid_grant): refresh tokens expire six months after the user authorised, or "
                        f"when access is revoked. Run `spotify-brain auth` and put the new token in {where}.") from None
                if exc.error in ("invalid_client", "unauthorized_client"):
                    raise SpotifyAuthError(f"Spotify refused the app credentials ({exc.error}): check "
                                           "SPOTIFY_CLIENT_ID and SPOTIFY_CLIENT_SECRET") from None
                problem = f"token endpoint error {exc.error}"
            except spotipy.SpotifyException as exc:
                if exc.http_status == 429:
                    wait = _retry_after(exc.headers)
                    if "QUOTA_EXCEEDED" in f"{exc.reason} {exc.msg}":
                        self.events.append(f"{what}: 429 QUOTA_EXCEEDED: stopped")
                        raise SpotifyRateLimitedError(
                            f"{what}: Spotify says the app's quota is used up (429 QUOTA_EXCEEDED); stopped, "
                            "the next run continues where this one stopped") from None
                    if wait is None or wait > self.settings.max_retry_after_s or failures >= self.settings.api_retries:
                        self.events.append(f"{what}: 429, Retry-After {wait}s: stopped")
                        raise SpotifyRateLimitedError(
                            f"{what}: Spotify rate-limited us with Retry-After {wait}s (we wait at most "
                            f"SPOTIFY_BRAIN_MAX_RETRY_AFTER={self.settings.max_retry_after_s:g}s, "
                            f"{self.settings.api_retries} times); stopped, the next run continues from the same cursor"
                        ) from None
                    self.events.append(f"{what}: 429, waited Retry-After {wait:g}s")
                    failures += 1
                    self.sleep(wait)
                    continue
                if exc.http_status == 401 and not refreshed:
                    self.events.append(f"{what}: 401, refreshed the access token")
                    if self.tokens:
                        self.tokens.expire_access_token()
                    else:
                        self.oauth.cache_handler.save_token_to_cache({})
                    refreshed = True
                    continue
                if exc.http_status is None or exc.http_status < 500:
                    raise
                problem = f"HTTP {exc.http_status}"
            except (requests.Timeout, requests.ConnectionError) as exc:
                problem = type(exc).__name__
                if offline := offline_reason(exc):  # offline: a retry seconds later finds the same
                    self.events.append(f"{what}: {offline}: stopped")
                    raise SpotifyUnavailableError(f"{what}: Spotify unreachable: {offline} (is this machine "
                                                  "offline?); the next run continues from the same cursor") from None
            failures += 1
            if failures > self.settings.api_retries:
                self.events.append(f"{what}: {problem}: gave up after {failures} attempts")
                raise SpotifyUnavailableError(f"{what}: {problem} after {failures} attempts") from None
            self.events.append(f"{what}: {problem}, retried")
            self.sleep(min(30.0, 0.5 * 2 ** (failures - 1)))
