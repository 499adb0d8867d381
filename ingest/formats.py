"""Every history file the import reads, whatever service wrote it: which kind a file is, and that
kind's record checks. One list, so the import, the drop folder and the real-export check agree.

Spotify's files are known by their names; Last.fm's and ListenBrainz's (whose names are whatever
a tool chose) by their first bytes as well.
"""

from __future__ import annotations

from ingest.lastfm_export import formats as lastfm
from ingest.listenbrainz_export import formats as listenbrainz
from ingest.spotify_download import formats as spotify

FORMATS = {"extended": spotify.EXTENDED, "account": spotify.ACCOUNT, **lastfm.FORMATS, **listenbrainz.FORMATS}


# files counted but not landed: Spotify's videos, podcasts and audiobooks
SET_ASIDE_WHOLE = {"video": "extended_history", "account_not_music": "account_data"}


HEAD_BYTES = 4096  # read from a file whose name does not say what it is


def needs_head(base: str) -> bool:
    """Whether the name alone cannot say if this is a history file (a CSV, JSON or JSON-lines file
    that is not one of Spotify's)."""
    return spotify.classify(base) is None and base.lower().endswith((".csv", ".json", ".jsonl"))


def classify(base: str, head: bytes = b"") -> str | None:
    """The kind of a history file from its base name and, for other services' files, its first
    HEAD_BYTES bytes; None when it is none of them."""
    return spotify.classify(base) or lastfm.classify(base, head) or listenbrainz.classify(base, head)


def source_of(kind: str) -> str:
    """The `raw.plays.source` a kind's plays land with."""
    return SET_ASIDE_WHOLE.get(kind) or FORMATS[kind]["source"]
