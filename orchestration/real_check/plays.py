"""A play as check-real's plain reading counts it, shared by the Spotify count (count.py) and the
scrobbles (scrobbles.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass
class Play:
    track: str
    ended: datetime
    ms: int
    artist: str
    account: bool
    source: str = "spotify"

    @property
    def started(self) -> datetime:
        return self.ended - timedelta(milliseconds=self.ms)


def norm(text: str | None) -> str:
    """A name as the rules compare it: trimmed, lower-cased; "" for anything but text."""
    return text.strip().lower() if isinstance(text, str) else ""
