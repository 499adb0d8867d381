"""MusicBrainz recordings, genres and release years, through ListenBrainz's keyless metadata
lookup: one request per track, by artist and track name (and album, when the history names it),
for every source's tracks. ListenBrainz serves MusicBrainz's own data here, matched to the
recording and with its tags, so a single call gives what MusicBrainz's web service would give in
three (search, artist, release) at its one request a second.

`GET /1/metadata/lookup/?artist_name=&recording_name=&release_name=&metadata=true&inc=artist tag release`
answers `{}` when nothing matches, else `{recording_mbid, release_mbid, artist_mbids, recording_name,
release_name, artist_credit_name, metadata: {recording, artist, tag: {recording, artist,
release_group}, release: {year, caa_id, caa_release_mbid, ...}}}` — listenbrainz/webserver/views/
metadata_api.py and listenbrainz/testdata/mb_metadata_cache_example.json. Tags that carry a
`genre_mbid` are MusicBrainz genres; the others (moods, eras, "seen live") are left out.
"""

from __future__ import annotations

import time

import duckdb

from ingest.enrichment.http import Provider, ProviderStopped
from ingest.enrichment.lookups import NAME_ONLY_UNRESOLVED, to_ask
from warehouse.loaders import land_lookups
from warehouse.settings import Settings

PROVIDER = "listenbrainz"
LANDED_EVERY = 25  # answers landed per transaction: a stopped run keeps what it found


def lookup_recordings(con: duckdb.DuckDBPyConnection, settings: Settings, sleep=time.sleep) -> Provider:
    """Ask about the most played tracks without a recording (a name-only track only while no known
    track or link resolves it: the resolved one is asked instead)."""
    provider = Provider("ListenBrainz", settings, min_interval_s=0.25, budget=settings.lookups_per_run, sleep=sleep)
    wanted = to_ask(con, PROVIDER,
                    f"not exists (select 1 from raw.recordings r where r.track_id = t.track_id) "
                    f"and t.track_name is not null and t.artist_names[1] is not null "
                    f"and (t.track_id not like 'name:%' or ({NAME_ONLY_UNRESOLVED}))",
                    "t.track_id, t.track_name, t.artist_names[1], t.album_name", settings.lookups_per_run + 1)
    url = f"{settings.listenbrainz_api_base_url}/1/metadata/lookup/"
    answers: list[tuple[str, dict | None]] = []
    try:
        for track_id, name, artist, album in wanted:
            params = {"artist_name": artist, "recording_name": name, "metadata": "true", "inc": "artist tag release"}
            if album:
                params["release_name"] = album
            status, body = provider.get(url, params)
            if status == 400:  # names it cannot look up (ListenBrainz says which): not found
                body = {}
            elif status != 200:
                raise ProviderStopped("unreachable", f"ListenBrainz answered HTTP {status} to a metadata lookup")
            answers.append((track_id, body if isinstance(body, dict) and body.get("recording_mbid") else None))
            if len(answers) >= LANDED_EVERY:
                _land(con, answers, provider)
                answers = []
    except ProviderStopped as exc:
        provider.report.stopped, provider.report.unreachable = str(exc), exc.kind == "unreachable"
    _land(con, answers, provider)
    return provider


def genres(tags: list | None, artist_mbid: str | None = None) -> list[tuple[str, int]]:
    """(genre, votes) of the tags that are MusicBrainz genres (of one artist, if given), most voted
    first; a genre tagged twice (spelled alike) keeps its higher count."""
    found: dict[str, int] = {}
    for tag in tags or []:
        if not isinstance(tag, dict) or not tag.get("genre_mbid") or not isinstance(tag.get("tag"), str):
            continue
        if artist_mbid is not None and tag.get("artist_mbid") != artist_mbid:
            continue
        name, votes = tag["tag"].strip().lower(), tag.get("count") if isinstance(tag.get("count"), int) else 0
        found[name] = max(found.get(name, 0), votes)
    return sorted(found.items(), key=lambda nv: (-nv[1], nv[0]))


def _land(con: duckdb.DuckDBPyConnection, answers: list[tuple[str, dict | None]], provider: Provider) -> None:
    if not answers:
        return
    recordings, artist_genres = [], {}
    for track_id, match in answers:
        if match is None:
            continue
        metadata = match.get("metadata") if isinstance(match.get("metadata"), dict) else {}
        release = metadata.get("release") if isinstance(metadata.get("release"), dict) else {}
        tags = metadata.get("tag") if isinstance(metadata.get("tag"), dict) else {}
        artists = (metadata.get("artist") or {}).get("artists") if isinstance(metadata.get("artist"), dict) else []
        year, caa_id = release.get("year"), release.get("caa_id")
        recordings.append({
            "track_id": track_id, "recording_mbid": str(match["recording_mbid"]),
            "recording_name": match.get("recording_name"), "artist_credit_name": match.get("artist_credit_name"),
            "artist_mbids": [str(a) for a in match.get("artist_mbids") or []] or None,
            "release_mbid": match.get("release_mbid"), "release_name": match.get("release_name"),
            "release_year": year if isinstance(year, int) and 1000 < year < 3000 else None,
            "caa_release_mbid": release.get("caa_release_mbid"),
            "caa_id": caa_id if isinstance(caa_id, int) else None,
            "recording_genres": [g for g, _ in genres(tags.get("recording"))] or None,
        })
        names = {a.get("artist_mbid"): a.get("name") for a in artists or [] if isinstance(a, dict)}
        for artist_mbid in recordings[-1]["artist_mbids"] or []:
            for genre, votes in genres(tags.get("artist"), artist_mbid):
                artist_genres[(artist_mbid, genre)] = {"artist_mbid": artist_mbid,
                                                       "artist_name": names.get(artist_mbid),
                                                       "genre": genre, "votes": votes}
    land_lookups(con, PROVIDER, [track_id for track_id, _ in answers], {r["track_id"] for r in recordings},
                 recordings=recordings, artist_genres=list(artist_genres.values()))
    provider.report.asked += len(answers)
    provider.report.found += len(recordings)
