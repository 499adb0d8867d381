"""ListenBrainz's export: which file is which, and the record checks of its listens (see
`ingest/record_checks.py` for what a format is).

- the zip from listenbrainz.org/settings/export: `user.json` (never read: it holds the user
  name) and `listens/<YYYY>/<M>.jsonl`, one listen a line;
- the older single file `<user>_lb-<YYYY-MM-DD>.json`, a JSON list of the same listens.

A listen is `{"listened_at": <Unix seconds>, "track_metadata": {"artist_name", "track_name",
"release_name", "additional_info": {...}, "mbid_mapping": {...}}}`. `listened_at` is when the
listen started, except for listens ListenBrainz's own Spotify importer wrote
(`additional_info.listening_from = "spotify"`): it copies Spotify's `played_at`, the end.
`additional_info.duration_ms` (or `duration`, seconds) is the track's length, not the time
played; `spotify_id` (`https://open.spotify.com/track/<id>`) gives the Spotify track.
"""

from __future__ import annotations

import re

from ingest.record_checks import (name_track_id, names_missing, optional_ms, quoted, scrobble_columns, type_checks,
                                  unix_time)

SOURCE = "listenbrainz"


JSONL_HEAD = re.compile(rb'^\s*\{.*"listened_at"', re.DOTALL)
OLD_EXPORT_NAME = re.compile(r"^.+_lb-\d{4}-\d{2}-\d{2}\.json$")


def classify(base: str, head: bytes) -> str | None:
    """The kind of a ListenBrainz export file from its name and first bytes, or None."""
    if base.lower().endswith(".jsonl") and JSONL_HEAD.match(head):
        return "listenbrainz_jsonl"
    if OLD_EXPORT_NAME.match(base):
        return "listenbrainz_json"
    return None


FIELDS = {"listened_at": "any", "artist_name": "string", "track_name": "string", "release_name": "string",
          "spotify_id": "string", "listening_from": "string", "duration_ms": "any", "duration": "any"}


_PATHS = {"listened_at": "$.listened_at", "artist_name": "$.track_metadata.artist_name",
          "track_name": "$.track_metadata.track_name", "release_name": "$.track_metadata.release_name",
          "spotify_id": "$.track_metadata.additional_info.spotify_id",
          "listening_from": "$.track_metadata.additional_info.listening_from",
          "duration_ms": "$.track_metadata.additional_info.duration_ms",
          "duration": "$.track_metadata.additional_info.duration"}


def _objects(json_format: str) -> str:
    """Each listen whole, its fields picked by path (a line that is no object has none: rejected)."""
    picked = ", ".join(f"json -> '{path}' as {name}_json" for name, path in _PATHS.items())
    return (f"select row_number() over () - 1 as record_no, {picked} "
            f"from read_json($path, format='{json_format}', records=false, columns={{'json': 'JSON'}})")


SPOTIFY_URL = r"(?:open\.spotify\.com/track/|spotify:track:)([0-9A-Za-z]{22})"


def _format(json_format: str, expected: str) -> dict:
    track_id = (f"coalesce(nullif(regexp_extract(spotify_id, '{SPOTIFY_URL}', 1), ''), "
                f"{name_track_id('artist_name', 'track_name')})")
    length = f"coalesce({optional_ms('duration_ms')}, {optional_ms('duration')} * 1000)"
    return {
        "source": SOURCE,
        "expected": expected,
        "fields": FIELDS,
        "objects": _objects(json_format),
        "checks": [*type_checks(FIELDS), names_missing("artist_name", "track_name"),
                   (f"{unix_time('listened_at')} is null",
                    "'listened_at is not a Unix time: ' || " + quoted("coalesce(listened_at, 'missing')"))],
        "set_aside": "false",
        "columns": scrobble_columns(track_id, unix_time("listened_at"), length, "track_name", "release_name",
                                    "artist_name", at_is_end="coalesce(listening_from = 'spotify', false)"),
    }


FORMATS = {"listenbrainz_jsonl": _format("newline_delimited", "ListenBrainz listens, one JSON object a line"),
           "listenbrainz_json": _format("array", "a JSON list of ListenBrainz listens")}
