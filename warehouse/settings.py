"""The one settings object: every knob of spotify-brain, read from the environment or `.env`.

Environment names are part of the public interface (scripts, CI secrets and docs rely
on them); `.env.example` documents each one.
"""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class SettingsError(ValueError):
    """A setting is wrong; the message names the environment variable at fault."""


def _env(name: str) -> AliasChoices:
    return AliasChoices(name)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    warehouse: Path = Field(Path("warehouse/spotify_brain.duckdb"), validation_alias=_env("SPOTIFY_BRAIN_WAREHOUSE"))
    data_dir: Path = Field(Path("warehouse/artifacts"), validation_alias=_env("SPOTIFY_BRAIN_DATA_DIR"))
    listener_id: str = Field("demo", min_length=1, validation_alias=_env("SPOTIFY_BRAIN_LISTENER_ID"))
    display_name: str = Field("Demo Listener", validation_alias=_env("SPOTIFY_BRAIN_DISPLAY_NAME"))
    timezone: str = Field("Europe/Berlin", validation_alias=_env("SPOTIFY_BRAIN_TIMEZONE"))
    export_path: Path = Field(Path("export/dashboard_data.json"), validation_alias=_env("SPOTIFY_BRAIN_EXPORT_PATH"))
    ingest_source: Literal["auto", "spotify", "demo", "none"] = Field(
        "auto", validation_alias=_env("SPOTIFY_BRAIN_INGEST_SOURCE")
    )

    spotify_client_id: SecretStr | None = Field(None, validation_alias=_env("SPOTIFY_CLIENT_ID"))
    spotify_client_secret: SecretStr | None = Field(None, validation_alias=_env("SPOTIFY_CLIENT_SECRET"))
    spotify_refresh_token: SecretStr | None = Field(None, validation_alias=_env("SPOTIFY_REFRESH_TOKEN"))

    recently_played_limit: int = Field(25, ge=0, le=25, validation_alias=_env("SPOTIFY_BRAIN_RECENTLY_PLAYED_LIMIT"))

    demo_seed: int = Field(42, validation_alias=_env("SPOTIFY_BRAIN_DEMO_SEED"))
    demo_days: int = Field(365, ge=1, validation_alias=_env("SPOTIFY_BRAIN_DEMO_DAYS"))
    demo_listeners: int = Field(1, ge=1, validation_alias=_env("SPOTIFY_BRAIN_DEMO_LISTENERS"))

    session_gap_minutes: int = Field(30, ge=1, validation_alias=_env("SPOTIFY_BRAIN_SESSION_GAP_MINUTES"))
    mood_k: int | None = Field(None, ge=2, le=12, validation_alias=_env("SPOTIFY_BRAIN_MOOD_K"))
    writer_lock_timeout_s: float = Field(600.0, gt=0, validation_alias=_env("SPOTIFY_BRAIN_WRITER_LOCK_TIMEOUT"))

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown IANA timezone {value!r} (e.g. 'Europe/Berlin')") from None
        return value

    @field_validator("mood_k", mode="before")
    @classmethod
    def _empty_is_none(cls, value):
        return None if value == "" else value

    @cached_property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def ingest_source_resolved(self) -> Literal["spotify", "demo", "none"]:
        """`auto` means the Spotify API when credentials are set, the demo listener otherwise."""
        if self.ingest_source != "auto":
            return self.ingest_source
        return "spotify" if self.has_spotify_credentials else "demo"

    @property
    def has_spotify_credentials(self) -> bool:
        return all((self.spotify_client_id, self.spotify_client_secret, self.spotify_refresh_token))

    def dbt_env(self) -> dict[str, str]:
        """Environment for a dbt subprocess: it reads the warehouse path from here, not `.env`."""
        return {"SPOTIFY_BRAIN_WAREHOUSE": str(self.warehouse.resolve())}


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


def load_settings(**overrides) -> Settings:
    """Read and check every setting; raise SettingsError naming the variable at fault."""
    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            field = str(err["loc"][0]) if err["loc"] else "?"
            name = Settings.model_fields[field].validation_alias if field in Settings.model_fields else field
            if isinstance(name, AliasChoices):
                name = name.choices[0]
            shown = "" if field.startswith("spotify_") else f" (got {err.get('input')!r})"  # never echo secrets
            problems.append(f"{name}: {err['msg']}{shown}")
        raise SettingsError("invalid setting(s):\n  " + "\n  ".join(problems)) from None
    for field, env_name in _PATH_SETTINGS.items():
        _check_writable(getattr(settings, field), env_name, is_dir=field == "data_dir")
    return settings
