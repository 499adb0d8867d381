"""`spotify-brain auth`: get a refresh token once, on any machine, without a browser on it.

The authorization-code flow with a loopback redirect (Spotify accepts `http://127.0.0.1:PORT/...`
but no longer `localhost`): print the authorize URL, the user opens it anywhere, approves,
and pastes back the URL the browser was sent to (the page itself may fail to load: that is
fine, the code is in the address). The `state` is checked, the code exchanged, and the refresh
token printed for `.env` or a CI secret. Nothing is written to disk.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable

from spotipy.cache_handler import MemoryCacheHandler
from spotipy.oauth2 import SpotifyOauthError

from ingest.spotify.client import SCOPES, HeadlessOAuth, SpotifyAuthError
from warehouse.settings import Settings


def authorize(settings: Settings, ask: Callable[[str], str] | None = None) -> str:
    """Run the flow; `ask` (default: input) shows a prompt and returns what the user pasted.
    Returns the refresh token."""
    ask = ask or input
    if not (settings.spotify_client_id and settings.spotify_client_secret):
        raise SpotifyAuthError("set SPOTIFY_CLIENT_ID and SPOTIFY_CLIENT_SECRET (from your app at "
                               "developer.spotify.com) before `spotify-brain auth`")
    if not settings.spotify_redirect_uri.startswith(("http://127.0.0.1:", "http://[::1]:", "https://")):
        raise SpotifyAuthError(f"SPOTIFY_REDIRECT_URI={settings.spotify_redirect_uri}: Spotify only accepts "
                               "loopback http://127.0.0.1:PORT/... or https redirects; register the same in your app")
    state = secrets.token_urlsafe(16)
    oauth = HeadlessOAuth(settings, cache_handler=MemoryCacheHandler(), state=state)
    url = oauth.get_authorize_url()
    pasted = ask(
        f"1. Add {settings.spotify_redirect_uri} as a redirect URI of your Spotify app.\n"
        f"2. Open this URL in any browser and approve (scope: {SCOPES}):\n\n  {url}\n\n"
        "3. Paste the whole address the browser was sent to (it starts with the redirect URI): "
    ).strip()
    try:
        returned_state, code = oauth.parse_auth_response_url(pasted)
    except SpotifyOauthError as exc:
        raise SpotifyAuthError(f"Spotify did not authorise: {exc.error or exc}") from None
    if returned_state != state:
        raise SpotifyAuthError("the pasted address belongs to another authorisation attempt (state differs); "
                               "run `spotify-brain auth` again and paste the newest address")
    if not code:
        raise SpotifyAuthError("the pasted address has no ?code=...: paste the address the browser was sent to")
    try:
        token_info = oauth.get_access_token(code, as_dict=True, check_cache=False)
    except SpotifyOauthError as exc:
        raise SpotifyAuthError(f"Spotify refused the code ({exc.error}): codes are single-use and expire "
                               "within minutes; run `spotify-brain auth` again") from None
    refresh = (token_info or {}).get("refresh_token")
    if not refresh:
        raise SpotifyAuthError("Spotify answered without a refresh token")
    return refresh
