"""The one settings object: every knob of spotify-brain, read from the environment or `.env`.

Environment names are part of the public interface (scripts, CI secrets and docs rely
on them); `.env.example` documents each one.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dotenv import dotenv_values
from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class SettingsError(ValueError):
    """A setting is wrong; the message names the environment variable at fault."""


def _env(name: str) -> AliasChoices:
    return AliasChoices(name)


# listener ids name partitions, files and folders: letters, digits, dot, dash, underscore; matched
# whole (fullmatch: `$` alone would let a trailing newline through)
LISTENER_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


def check_timezone(value: str) -> str:
    """An IANA name both Python (the export) and DuckDB (dbt's local hours) know; ValueError if not."""
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown IANA timezone {value!r} (e.g. 'Europe/Berlin')") from None
    if not _duckdb_knows(value):
        raise ValueError(f"timezone {value!r} is not one DuckDB knows (dbt computes local hours there); "
                         "use the plain IANA name, e.g. 'Europe/Berlin'")
    return value


@lru_cache(maxsize=64)
def _duckdb_knows(timezone: str) -> bool:
    """Asked once per process and zone: a run loads its settings about ten times, 25 ms a query."""
    import duckdb

    with duckdb.connect() as con:
        return bool(con.execute("select count(*) from pg_timezone_names() where name = ?", [timezone]).fetchone()[0])


def check_listener_id(value: str) -> str:
    """The one check of a listener id, whichever door it came through; ValueError naming it if not."""
    if not isinstance(value, str) or not LISTENER_ID.fullmatch(value):
        raise ValueError(f"listener id {value!r}: use 1-64 letters, digits, '.', '-' or '_' "
                         "(it names files, folders and Dagster partitions)")
    return value


@dataclass(frozen=True)
class ListenerConfig:
    """One Spotify account to pull plays for."""

    listener_id: str
    display_name: str
    timezone: str
    refresh_token: SecretStr | None
    refresh_token_env: str  # where the token came from, for messages


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    warehouse: Path = Field(Path("data/spotify_brain.duckdb"), validation_alias=_env("SPOTIFY_BRAIN_WAREHOUSE"))
    data_dir: Path = Field(Path("data/artifacts"), validation_alias=_env("SPOTIFY_BRAIN_DATA_DIR"))
    listener_id: str = Field("demo", validation_alias=_env("SPOTIFY_BRAIN_LISTENER_ID"))
    display_name: str = Field("Demo Listener", validation_alias=_env("SPOTIFY_BRAIN_DISPLAY_NAME"))
    timezone: str = Field("Europe/Berlin", validation_alias=_env("SPOTIFY_BRAIN_TIMEZONE"))
    export_path: Path = Field(Path("data/export/dashboard_data.json"), validation_alias=_env("SPOTIFY_BRAIN_EXPORT_PATH"))
    # every other listener of a household: {listener_id} is replaced by the id
    export_path_pattern: str = Field("data/export/listeners/{listener_id}/dashboard_data.json",
                                     validation_alias=_env("SPOTIFY_BRAIN_EXPORT_PATH_PATTERN"))
    # a drop folder the Dagster sensor imports privacy exports from (a subfolder per other listener)
    inbox: Path = Field(Path("data/inbox"), validation_alias=_env("SPOTIFY_BRAIN_INBOX"))
    # the plays_are_fresh check warns when a live listener's newest play is older than this
    stale_after_hours: int = Field(48, ge=1, validation_alias=_env("SPOTIFY_BRAIN_STALE_AFTER_HOURS"))
    # runs recorded in the Dagster instance are deleted after this many days
    keep_runs_days: int = Field(30, ge=1, validation_alias=_env("SPOTIFY_BRAIN_KEEP_RUNS_DAYS"))
    # ... but successful refreshes (and their listener runs) after this many (failed ones are kept)
    keep_refresh_runs_days: int = Field(3, ge=1, validation_alias=_env("SPOTIFY_BRAIN_KEEP_REFRESH_RUNS_DAYS"))
    ingest_source: Literal["auto", "spotify", "demo", "none"] = Field(
        "auto", validation_alias=_env("SPOTIFY_BRAIN_INGEST_SOURCE")
    )

    spotify_client_id: SecretStr | None = Field(None, validation_alias=_env("SPOTIFY_CLIENT_ID"))
    spotify_client_secret: SecretStr | None = Field(None, validation_alias=_env("SPOTIFY_CLIENT_SECRET"))
    spotify_refresh_token: SecretStr | None = Field(None, validation_alias=_env("SPOTIFY_REFRESH_TOKEN"))

    spotify_api_base_url: str = Field("https://api.spotify.com/v1", validation_alias=_env("SPOTIFY_API_BASE_URL"))
    spotify_accounts_base_url: str = Field("https://accounts.spotify.com",
                                           validation_alias=_env("SPOTIFY_ACCOUNTS_BASE_URL"))
    spotify_redirect_uri: str = Field("http://127.0.0.1:8888/callback", validation_alias=_env("SPOTIFY_REDIRECT_URI"))
    # where a refresh token Spotify rotated is kept (JSON per listener, mode 600); never logged
    token_file: Path = Field(Path("data/spotify_tokens.json"), validation_alias=_env("SPOTIFY_BRAIN_TOKEN_FILE"))
    # household members besides the main listener: JSON list of
    # {"listener_id", "display_name", "timezone", "refresh_token_env"}
    extra_listeners: list[dict[str, str]] = Field([], validation_alias=_env("SPOTIFY_BRAIN_LISTENERS"))
    api_timeout_s: float = Field(10.0, gt=0, validation_alias=_env("SPOTIFY_BRAIN_API_TIMEOUT"))
    api_retries: int = Field(3, ge=0, le=10, validation_alias=_env("SPOTIFY_BRAIN_API_RETRIES"))
    max_retry_after_s: float = Field(60.0, ge=0, validation_alias=_env("SPOTIFY_BRAIN_MAX_RETRY_AFTER"))
    max_pages: int = Field(50, ge=1, validation_alias=_env("SPOTIFY_BRAIN_MAX_PAGES"))
    artist_refresh_days: int = Field(90, ge=1, validation_alias=_env("SPOTIFY_BRAIN_ARTIST_REFRESH_DAYS"))
    # Spotify catalogue calls (tracks, artists) enrichment may make: development-mode apps are
    # throttled to roughly a thousand calls a day; what is not done continues next run
    api_calls_per_run: int = Field(50, ge=0, validation_alias=_env("SPOTIFY_BRAIN_API_CALLS_PER_RUN"))
    api_calls_per_day: int = Field(900, ge=0, validation_alias=_env("SPOTIFY_BRAIN_API_CALLS_PER_DAY"))
    audio_features: Literal["reccobeats", "file", "spotify", "none"] = Field(
        "reccobeats", validation_alias=_env("SPOTIFY_BRAIN_AUDIO_FEATURES"))
    audio_features_file: Path | None = Field(None, validation_alias=_env("SPOTIFY_BRAIN_AUDIO_FEATURES_FILE"))
    reccobeats_api_base_url: str = Field("https://api.reccobeats.com", validation_alias=_env("RECCOBEATS_API_BASE_URL"))
    # keyless enrichment, no Spotify app needed: ListenBrainz (recordings, genres, release years, Spotify
    # ids for name-only plays) and Spotify's oEmbed (album art); false: no lookups, nothing leaves the machine
    keyless_lookups: bool = Field(True, validation_alias=_env("SPOTIFY_BRAIN_KEYLESS_LOOKUPS"))
    lookups_per_run: int = Field(300, ge=0, validation_alias=_env("SPOTIFY_BRAIN_LOOKUPS_PER_RUN"))
    # who runs this installation (an e-mail or URL), sent in the User-Agent MetaBrainz asks for
    contact: str = Field("", validation_alias=_env("SPOTIFY_BRAIN_CONTACT"))
    listenbrainz_api_base_url: str = Field("https://api.listenbrainz.org",
                                           validation_alias=_env("LISTENBRAINZ_API_BASE_URL"))
    listenbrainz_labs_base_url: str = Field("https://labs.api.listenbrainz.org",
                                            validation_alias=_env("LISTENBRAINZ_LABS_BASE_URL"))
    spotify_oembed_base_url: str = Field("https://open.spotify.com", validation_alias=_env("SPOTIFY_OEMBED_BASE_URL"))
    cover_art_archive_base_url: str = Field("https://coverartarchive.org",
                                            validation_alias=_env("COVER_ART_ARCHIVE_BASE_URL"))

    # delivery of the export to the website's git repository (off while WEBSITE_REPO is empty)
    website_repo: str = Field("", validation_alias=_env("WEBSITE_REPO"))
    website_repo_branch: str = Field("main", min_length=1, validation_alias=_env("WEBSITE_REPO_BRANCH"))
    website_repo_file: str = Field("public/dashboard_data.json", validation_alias=_env("WEBSITE_REPO_FILE"))
    website_repo_file_pattern: str = Field("public/listeners/{listener_id}/dashboard_data.json",
                                           validation_alias=_env("WEBSITE_REPO_FILE_PATTERN"))
    website_repo_pat: SecretStr | None = Field(None, validation_alias=_env("WEBSITE_REPO_PAT"))

    recently_played_limit: int = Field(25, ge=0, le=25, validation_alias=_env("SPOTIFY_BRAIN_RECENTLY_PLAYED_LIMIT"))

    demo_seed: int = Field(42, validation_alias=_env("SPOTIFY_BRAIN_DEMO_SEED"))
    demo_days: int = Field(365, ge=1, validation_alias=_env("SPOTIFY_BRAIN_DEMO_DAYS"))
    demo_listeners: int = Field(1, ge=1, validation_alias=_env("SPOTIFY_BRAIN_DEMO_LISTENERS"))
    # how the first demo listener listens (ingest/demo/rules.py PROFILES): `real` is a sparse, drifting one
    demo_profile: Literal["steady", "real", "night_owl", "early_bird", "flat"] = Field(
        "steady", validation_alias=_env("SPOTIFY_BRAIN_DEMO_PROFILE"))

    session_gap_minutes: int = Field(30, ge=1, validation_alias=_env("SPOTIFY_BRAIN_SESSION_GAP_MINUTES"))
    # what the listening statistics leave out (white noise, sleep sounds, a child's songs): JSON
    # lists of artist names or Spotify artist ids, and of track names or Spotify track ids (names
    # compared case-insensitively), and plays shorter than this; applied in dbt, the raw plays stay
    stats_exclude_artists: list[str] = Field([], validation_alias=_env("SPOTIFY_BRAIN_STATS_EXCLUDE_ARTISTS"))
    stats_exclude_tracks: list[str] = Field([], validation_alias=_env("SPOTIFY_BRAIN_STATS_EXCLUDE_TRACKS"))
    stats_min_play_seconds: int = Field(0, ge=0, le=3600, validation_alias=_env("SPOTIFY_BRAIN_STATS_MIN_PLAY_SECONDS"))
    mood_k: int | None = Field(None, ge=2, le=12, validation_alias=_env("SPOTIFY_BRAIN_MOOD_K"))
    duckdb_memory_limit: str = Field("4GB", pattern=r"^\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)$",
                                     validation_alias=_env("SPOTIFY_BRAIN_DUCKDB_MEMORY_LIMIT"))
    writer_lock_timeout_s: float = Field(600.0, gt=0, validation_alias=_env("SPOTIFY_BRAIN_WRITER_LOCK_TIMEOUT"))

    @field_validator("stats_exclude_artists", "stats_exclude_tracks")
    @classmethod
    def _plain_names(cls, value: list[str]) -> list[str]:
        names = [name.strip() for name in value]
        if any(not name or len(name) > 500 for name in names):
            raise ValueError("each entry must be a name or an id of 1-500 characters")
        return names

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        return check_timezone(value)

    @field_validator("listener_id")
    @classmethod
    def _listener_id(cls, value: str) -> str:
        return check_listener_id(value)

    @field_validator("extra_listeners")
    @classmethod
    def _household_ids_and_zones(cls, value: list[dict[str, str]]) -> list[dict[str, str]]:
        """Each household member's id and timezone are checked at start-up, whatever the source
        (their token only when the Spotify source reads it)."""
        for number, entry in enumerate(value):
            if "listener_id" not in entry:
                raise ValueError(f"entry {number}: missing listener_id")
            try:
                check_listener_id(entry["listener_id"])
                if "timezone" in entry:
                    check_timezone(entry["timezone"])
            except ValueError as exc:
                raise ValueError(f"entry {number}: {exc}") from None
        return value

    @field_validator("export_path_pattern", "website_repo_file_pattern")
    @classmethod
    def _has_listener_placeholder(cls, value: str) -> str:
        if "{listener_id}" not in value:
            raise ValueError(f"must contain {{listener_id}}: {value!r}")
        return value

    @field_validator("mood_k", "audio_features_file", mode="before")
    @classmethod
    def _empty_is_none(cls, value):
        return None if value == "" else value

    @field_validator("spotify_api_base_url", "spotify_accounts_base_url", "reccobeats_api_base_url",
                     "listenbrainz_api_base_url", "listenbrainz_labs_base_url", "spotify_oembed_base_url",
                     "cover_art_archive_base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"not an http(s) URL: {value!r}")
        return value.rstrip("/")

    @field_validator("website_repo_file", "website_repo_file_pattern")
    @classmethod
    def _inside_the_repo(cls, value: str) -> str:
        parts = Path(value).parts
        if not parts or Path(value).is_absolute() or ".." in parts or parts[0] == ".git":
            raise ValueError(f"must be a path inside the repository, like public/dashboard_data.json: {value!r}")
        return value

    @field_validator("website_repo")
    @classmethod
    def _no_credentials_in_url(cls, value: str) -> str:
        if "@" in value.split("/")[2 if "://" in value else 0]:
            raise ValueError("must not contain credentials; put the token in WEBSITE_REPO_PAT")
        return value

    @model_validator(mode="after")
    def _features_file_given(self) -> "Settings":
        if self.audio_features == "file" and self.audio_features_file is None:
            raise ValueError("SPOTIFY_BRAIN_AUDIO_FEATURES=file needs SPOTIFY_BRAIN_AUDIO_FEATURES_FILE")
        return self

    @cached_property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def has_spotify_credentials(self) -> bool:
        return all((self.spotify_client_id, self.spotify_client_secret, self.spotify_refresh_token))

    def listeners(self) -> list[ListenerConfig]:
        """Every listener the Spotify source pulls for: the main one, then SPOTIFY_BRAIN_LISTENERS."""
        main = ListenerConfig(self.listener_id, self.display_name, self.timezone, self.spotify_refresh_token,
                              "SPOTIFY_REFRESH_TOKEN")
        found, env_file = [main], dotenv_values(".env") if Path(".env").exists() else {}
        for number, entry in enumerate(self.extra_listeners):
            where = f"SPOTIFY_BRAIN_LISTENERS[{number}]"
            missing = {"listener_id", "refresh_token_env"} - entry.keys()
            if missing:
                raise SettingsError(f"{where}: missing {', '.join(sorted(missing))}")
            timezone = entry.get("timezone", self.timezone)
            try:
                check_timezone(timezone)
                check_listener_id(entry["listener_id"])
            except ValueError as exc:
                raise SettingsError(f"{where}: {exc}") from None
            env_name = entry["refresh_token_env"]
            token = os.environ.get(env_name) or env_file.get(env_name)
            if not token:
                raise SettingsError(f"{where}: {env_name} (the refresh token of {entry['listener_id']}) is not set")
            if entry["listener_id"] in {listener.listener_id for listener in found}:
                raise SettingsError(f"{where}: listener_id {entry['listener_id']!r} appears twice")
            found.append(ListenerConfig(entry["listener_id"], entry.get("display_name", entry["listener_id"]),
                                        timezone, SecretStr(token), env_name))
        return found

    def export_path_for(self, listener_id: str) -> Path:
        """Where a listener's export goes: the main listener's keeps SPOTIFY_BRAIN_EXPORT_PATH."""
        if listener_id == self.listener_id:
            return self.export_path
        return Path(self.export_path_pattern.format(listener_id=check_listener_id(listener_id)))

    def website_file_for(self, listener_id: str) -> str:
        if listener_id == self.listener_id:
            return self.website_repo_file
        return self.website_repo_file_pattern.format(listener_id=check_listener_id(listener_id))

    def dbt_env(self) -> dict[str, str]:
        """Environment for dbt: profiles.yml reads the warehouse path from here, not `.env`. The
        path is passed as configured (relative to the working folder, like every path setting),
        so the profile, and with it dbt's partial parsing, stays the same wherever the folder is."""
        return {"SPOTIFY_BRAIN_WAREHOUSE": str(self.warehouse),
                "SPOTIFY_BRAIN_DUCKDB_MEMORY_LIMIT": self.duckdb_memory_limit}


_PATH_SETTINGS = {
    "warehouse": "SPOTIFY_BRAIN_WAREHOUSE",
    "export_path": "SPOTIFY_BRAIN_EXPORT_PATH",
    "data_dir": "SPOTIFY_BRAIN_DATA_DIR",
}


def _check_writable(path: Path, env_name: str, is_dir: bool) -> None:
    folder = path if is_dir else path.parent
    existing = folder
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir() or not os.access(existing, os.W_OK):
        raise SettingsError(f"{env_name}={path}: cannot write there ({existing} is not a writable folder)")
    if path.exists() and not is_dir and not os.access(path, os.W_OK):
        raise SettingsError(f"{env_name}={path}: file exists and is not writable")


_ENV_NAMES = {field: info.validation_alias.choices[0] for field, info in Settings.model_fields.items()}
_MAY_HOLD_SECRETS = {_ENV_NAMES[field] for field, info in Settings.model_fields.items()
                     if "SecretStr" in str(info.annotation)} | {"WEBSITE_REPO", "SPOTIFY_BRAIN_LISTENERS"}


def load_settings(**overrides) -> Settings:
    """Read and check every setting; raise SettingsError naming the variable at fault."""
    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            name = str(err["loc"][0]) if err["loc"] else "settings"
            name = _ENV_NAMES.get(name, name)  # the loc is the env name, or the field name for overrides
            # never echo what might hold a secret: tokens, credentials in URLs, listener configs
            secret = not err["loc"] or name in _MAY_HOLD_SECRETS
            shown = "" if secret else f" (got {err.get('input')!r})"
            problems.append(f"{name}: {err['msg']}{shown}")
        raise SettingsError("invalid setting(s):\n  " + "\n  ".join(problems)) from None
    for field, env_name in _PATH_SETTINGS.items():
        _check_writable(getattr(settings, field), env_name, is_dir=field == "data_dir")
    return settings
