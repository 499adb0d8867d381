"""Idempotent loaders for `raw.*`: every source (demo, API, privacy export) lands through here.

A batch is one transaction: it lands whole or not at all. Loading the same batch twice
adds nothing: plays are keyed by (listener_id, track_id, played_at); tracks, artists,
audio features by their ids (first seen wins); listeners are upserted (timezone may change).
Records with missing keys go to `raw.rejected_records` with the reason; the rest loads.

Records of one batch with the same key are one play. Exact repeats (every field the same) are
duplicates. Records that differ are folded into one play: for the account data, whose end
times are cut to the minute, the play of that minute holds their listening time added up (two
different records of one track ending in the same minute are two real plays, a restart and a
play say, and their minutes are real); for every other source, whose end times are exact, the
longest record is kept (one stream logged twice, by two devices or a resent log).
A batch's records add up: read = inserted + duplicate + folded + rejected + set aside.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import duckdb
import pyarrow as pa

PLAY_SCHEMA = pa.schema(
    [
        ("listener_id", pa.string()),
        ("track_id", pa.string()),
        ("played_at", pa.timestamp("ms")),
        ("ms_played", pa.int64()),
        ("skipped", pa.bool_()),
        ("reason_start", pa.string()),
        ("reason_end", pa.string()),
        ("shuffle", pa.bool_()),
        ("context_uri", pa.string()),
        ("platform", pa.string()),
        ("started_at", pa.timestamp("ms")),  # only from sources that time a play by its start (scrobblers)
    ]
)
TRACK_SCHEMA = pa.schema(
    [
        ("track_id", pa.string()),
        ("track_name", pa.string()),
        ("album_id", pa.string()),
        ("album_name", pa.string()),
        ("album_image_url", pa.string()),
        ("duration_ms", pa.int64()),
        ("artist_ids", pa.list_(pa.string())),
        ("artist_names", pa.list_(pa.string())),
    ]
)
ARTIST_SCHEMA = pa.schema(
    [("artist_id", pa.string()), ("artist_name", pa.string()), ("genres", pa.list_(pa.string()))]
)
FEATURE_COLUMNS = (
    "danceability", "energy", "valence", "acousticness", "instrumentalness",
    "speechiness", "liveness", "loudness", "tempo",
)
FEATURE_SCHEMA = pa.schema([("track_id", pa.string())] + [(c, pa.float64()) for c in FEATURE_COLUMNS])
REJECT_SCHEMA = pa.schema([("record_ref", pa.string()), ("reason", pa.string()), ("payload", pa.string())])
LISTENER_SCHEMA = pa.schema(
    [("listener_id", pa.string()), ("display_name", pa.string()), ("timezone", pa.string())]
)


@dataclass
class RawBatch:
    """Raw records from one source for one listener, in the shape of the `raw.*` tables:
    lists of dicts, or Arrow tables with the schemas above. Plays may also be a DuckDB
    relation on the loading connection with the PLAY_SCHEMA columns and `record_no` (the
    batch order), so a parser working in DuckDB hands them over without a copy."""

    source: str
    listener_id: str
    plays: list[dict] | pa.Table | duckdb.DuckDBPyRelation = field(default_factory=list)
    tracks: list[dict] | pa.Table = field(default_factory=list)
    artists: list[dict] = field(default_factory=list)
    audio_features: list[dict] = field(default_factory=list)
    listeners: list[dict] = field(default_factory=list)
    feature_provider: str = "none"
    # records the source's parser already refused: {"record_ref", "reason", "payload"}
    rejected: list[dict] | pa.Table = field(default_factory=list)
    # records that are not music plays (podcast episodes, audiobooks, videos), counted only
    set_aside: int = 0
    # what happened while fetching (retries, rate limits, rotated tokens), kept in raw.ingest_runs.message
    note: str | None = None


@dataclass
class LoadReport:
    ingest_run_id: str
    listener_id: str
    source: str
    records_read: int
    plays_inserted: int
    plays_duplicate: int
    records_rejected: int
    records_set_aside: int
    cursor_before: int | None
    cursor_after: int | None
    # why the loader itself refused plays (the source's parser counts its own reasons)
    rejected_by_reason: dict[str, int] = field(default_factory=dict)
    plays_folded: int = 0


def utc_now() -> datetime:
    """Naive UTC, as every timestamp in the warehouse."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


def latest_played_at_ms(con: duckdb.DuckDBPyConnection, listener_id: str, source: str | None = None) -> int | None:
    """Newest stored play of the listener (of one source, if given), in Unix milliseconds. The API
    cursor reads only the API's own plays, so no imported record can move it."""
    row = con.execute(
        "select epoch_ms(max(played_at)) from raw.plays where listener_id = ? and source = coalesce(?, source)",
        [listener_id, source],
    ).fetchone()
    return None if row[0] is None else int(row[0])


@contextmanager
def _registered(con: duckdb.DuckDBPyConnection, name: str,
                table: pa.Table | duckdb.DuckDBPyRelation) -> Iterator[None]:
    """Expose an Arrow table or a relation to SQL under `name` for the duration of the block."""
    con.register(name, table)
    try:
        yield
    finally:
        con.unregister(name)


def ensure_listener(con: duckdb.DuckDBPyConnection, listener_id: str, display_name: str, timezone_name: str,
                    source: str) -> None:
    """Record a listener if it is new; an existing listener keeps its name and timezone."""
    con.execute(
        "insert into raw.listeners values (?, ?, ?, ?, ?, ?) on conflict (listener_id) do nothing",
        [listener_id, display_name, timezone_name, source, f"{source}-listener", utc_now()],
    )


def save_listener(con: duckdb.DuckDBPyConnection, listener_id: str, display_name: str, timezone_name: str,
                  source: str) -> None:
    """Record a listener, or give a known one this name and timezone (an import that says them)."""
    con.execute("insert or replace into raw.listeners values (?, ?, ?, ?, ?, ?)",
                [listener_id, display_name, timezone_name, source, f"{source}-listener", utc_now()])


def _arrow(rows: list[dict] | pa.Table, schema: pa.Schema) -> pa.Table:
    return rows if isinstance(rows, pa.Table) else pa.Table.from_pylist(rows, schema=schema)


def _numbered_plays(plays: list[dict] | pa.Table | duckdb.DuckDBPyRelation) -> pa.Table | duckdb.DuckDBPyRelation:
    """Plays with `record_no`, their order in the batch (the first of in-batch repeats wins)."""
    if isinstance(plays, duckdb.DuckDBPyRelation):
        return plays
    table = _arrow(plays, PLAY_SCHEMA)
    return table.append_column("record_no", pa.array(range(len(table)), pa.int64()))


def _insert_new(con, table: str, key: str, rows: list[dict], schema: pa.Schema, extra: dict,
                fill_gaps: tuple[str, ...] = ()) -> None:
    """Insert rows whose key is new (the first of in-batch repeats). For known keys, only the
    `fill_gaps` columns that are still null are filled, e.g. a track first seen in a privacy
    export (no album id or artist ids) completed later by the API. Nothing is overwritten."""
    if len(rows) == 0:
        return
    columns = ", ".join(schema.names)
    extra_cols = ", ".join(extra)
    placeholders = ", ".join("?" for _ in extra)
    on_conflict = "do nothing"
    if fill_gaps:
        sets = [f"{c} = coalesce({table}.{c}, excluded.{c})" for c in fill_gaps]
        if "artist_ids" in fill_gaps:  # the names come with the ids they belong to
            sets.append(f"artist_names = case when {table}.artist_ids is null and excluded.artist_ids is not null "
                        f"then excluded.artist_names else {table}.artist_names end")
        on_conflict = "do update set " + ", ".join(sets)
    with _registered(con, "batch", _arrow(rows, schema)):
        con.execute(
            f"""
            insert into {table} ({columns}, {extra_cols})
            select {columns}, {placeholders} from batch b
            where b.{key} is not null
            qualify row_number() over (partition by b.{key}) = 1
            on conflict ({key}) {on_conflict}
            """,
            list(extra.values()),
        )


TRACK_GAPS = ("album_id", "album_image_url", "duration_ms", "artist_ids")


def complete_catalog(con: duckdb.DuckDBPyConnection, tracks: list[dict], artists: list[dict],
                     source: str = "enrichment") -> None:
    """Land tracks and artists a lookup found, in one transaction: new ones are inserted, known
    tracks get what they lacked (a track from a privacy export: its album, cover and artists)."""
    provenance = {"source": source, "ingest_run_id": f"{source}-{utc_now():%Y%m%d}", "loaded_at": utc_now()}
    con.execute("begin transaction")
    try:
        _insert_new(con, "raw.artists", "artist_id", artists, ARTIST_SCHEMA, provenance)
        _insert_new(con, "raw.tracks", "track_id", tracks, TRACK_SCHEMA, provenance, fill_gaps=TRACK_GAPS)
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise


RECORDING_SCHEMA = pa.schema([
    ("track_id", pa.string()), ("recording_mbid", pa.string()), ("recording_name", pa.string()),
    ("artist_credit_name", pa.string()), ("artist_mbids", pa.list_(pa.string())), ("release_mbid", pa.string()),
    ("release_name", pa.string()), ("release_year", pa.int32()), ("caa_release_mbid", pa.string()),
    ("caa_id", pa.int64()), ("recording_genres", pa.list_(pa.string())),
])
ARTIST_GENRE_SCHEMA = pa.schema([("artist_mbid", pa.string()), ("artist_name", pa.string()), ("genre", pa.string()),
                                 ("votes", pa.int32())])
LINK_SCHEMA = pa.schema([("name_track_id", pa.string()), ("track_id", pa.string())])


def land_lookups(con: duckdb.DuckDBPyConnection, provider: str, asked: list[str], found: set[str], *,
                 recordings: list[dict] = (), artist_genres: list[dict] = (), links: list[dict] = (),
                 tracks: list[dict] = (), images: dict[str, str] | None = None) -> None:
    """One batch of a keyless provider's answers, in one transaction with the record of what was
    asked (raw.metadata_lookups), so no track is ever recorded as asked with its answer lost.
    Nothing is overwritten: a recording, a genre or a link already stored stays; an image fills
    only a track that has none."""
    at = utc_now()
    con.execute("begin transaction")
    try:
        for table, rows, schema, extra in (
                ("raw.recordings", recordings, RECORDING_SCHEMA, ", ?, ?"),
                ("raw.artist_genres", artist_genres, ARTIST_GENRE_SCHEMA, ", 'musicbrainz', ?"),
                ("raw.track_links", links, LINK_SCHEMA, ", ?, ?")):
            if len(rows):
                params = [provider, at] if extra == ", ?, ?" else [at]
                with _registered(con, "answers", _arrow(rows, schema)):
                    con.execute(f"insert into {table} select *{extra} from answers on conflict do nothing", params)
        provenance = {"source": provider, "ingest_run_id": f"{provider}-{at:%Y%m%d}", "loaded_at": at}
        _insert_new(con, "raw.tracks", "track_id", tracks, TRACK_SCHEMA, provenance, fill_gaps=TRACK_GAPS)
        for track_id, url in (images or {}).items():
            con.execute("update raw.tracks set album_image_url = ? where track_id = ? and album_image_url is null",
                        [url, track_id])
        with _registered(con, "asked", pa.table({"item_id": pa.array(asked, pa.string()),
                                                  "found": pa.array([i in found for i in asked], pa.bool_())})):
            con.execute("insert or replace into raw.metadata_lookups select ?, item_id, found, ? from asked",
                        [provider, at])
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise


def land_features(con: duckdb.DuckDBPyConnection, provider: str, rows: list[dict], asked: list[str],
                  found: set[str]) -> None:
    """One batch of a feature provider's answers, in one transaction with the record of every track
    asked (raw.feature_lookups), found or not; features already stored stay."""
    at = utc_now()
    lookups = pa.table({"track_id": pa.array(asked, pa.string()),
                        "found": pa.array([t in found for t in asked], pa.bool_())})
    con.execute("begin transaction")
    try:
        with _registered(con, "features", _arrow(rows, FEATURE_SCHEMA)), _registered(con, "lookups", lookups):
            con.execute("insert into raw.audio_features select *, ?, ?, ? from features on conflict do nothing",
                        [provider, f"features-{provider}-{at:%Y%m%dT%H%M%S}", at])
            con.execute("insert or replace into raw.feature_lookups select track_id, ?, found, ? from lookups",
                        [provider, at])
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise


def forget_lookups(con: duckdb.DuckDBPyConnection, provider: str | None) -> int:
    """What a provider (or every provider) answered "not found" is asked again from the next run."""
    deleted = con.execute("delete from raw.metadata_lookups where not found and provider = coalesce(?, provider)",
                          [provider]).fetchone()[0]
    deleted += con.execute("delete from raw.feature_lookups where not found and provider = coalesce(?, provider)",
                           [provider]).fetchone()[0]
    if provider in (None, "spotify"):
        deleted += con.execute("delete from raw.catalog_lookups where not found").fetchone()[0]
    return int(deleted)


def load_batch(con: duckdb.DuckDBPyConnection, batch: RawBatch) -> LoadReport:
    """Land a batch in one transaction and record it in `raw.ingest_runs`."""
    with _registered(con, "plays", _numbered_plays(batch.plays)):
        plays_read = con.execute("select count(*) from plays").fetchone()[0]
        return _load_registered(con, batch, plays_read)


def _load_registered(con: duckdb.DuckDBPyConnection, batch: RawBatch, plays_read: int) -> LoadReport:
    run_id = f"{batch.source}-{utc_now():%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"
    started = utc_now()
    cursor_before = latest_played_at_ms(con, batch.listener_id)
    provenance = {"source": batch.source, "ingest_run_id": run_id, "loaded_at": started}
    records_read = plays_read + len(batch.rejected) + batch.set_aside
    con.execute("begin transaction")
    try:
        if batch.listeners:
            with _registered(con, "listeners", pa.Table.from_pylist(batch.listeners, schema=LISTENER_SCHEMA)):
                con.execute(
                    "insert or replace into raw.listeners "
                    "select listener_id, display_name, timezone, ?, ?, ? from listeners",
                    [batch.source, run_id, started],
                )
        _insert_new(con, "raw.artists", "artist_id", batch.artists, ARTIST_SCHEMA, provenance)
        _insert_new(con, "raw.tracks", "track_id", batch.tracks, TRACK_SCHEMA, provenance, fill_gaps=TRACK_GAPS)
        _insert_new(
            con, "raw.audio_features", "track_id", batch.audio_features, FEATURE_SCHEMA,
            {"provider": batch.feature_provider, "ingest_run_id": run_id, "loaded_at": started},
        )
        refused = _reject_bad_plays(con, batch.source, run_id, started)
        rejected_here = sum(refused.values())
        inserted, folded = _insert_new_plays(con, batch.source, run_id, started)
        with _registered(con, "rejected", _arrow(batch.rejected, REJECT_SCHEMA)):
            con.execute("insert into raw.rejected_records select ?, ?, record_ref, reason, payload, ? from rejected",
                        [run_id, batch.source, started])
        report = LoadReport(
            ingest_run_id=run_id,
            listener_id=batch.listener_id,
            source=batch.source,
            records_read=records_read,
            plays_inserted=inserted,
            plays_duplicate=plays_read - inserted - folded - rejected_here,
            records_rejected=rejected_here + len(batch.rejected),
            records_set_aside=batch.set_aside,
            cursor_before=cursor_before,
            cursor_after=latest_played_at_ms(con, batch.listener_id),
            rejected_by_reason=refused,
            plays_folded=folded,
        )
        _record_run(con, report, started, "success", batch.note)
        con.execute("commit")
    except Exception as exc:
        con.execute("rollback")
        failed = LoadReport(run_id, batch.listener_id, batch.source, records_read, 0, 0, 0, 0,
                            cursor_before, cursor_before)
        _record_run(con, failed, started, "failed", f"{type(exc).__name__}: {exc}")
        raise
    return report


def record_stopped_run(con: duckdb.DuckDBPyConnection, listener_id: str, source: str, outcome: str,
                       message: str) -> LoadReport:
    """A run that stopped before loading anything (rate limit, dead token, outage): the cursor stays."""
    cursor = latest_played_at_ms(con, listener_id)
    report = LoadReport(f"{source}-{utc_now():%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}", listener_id, source,
                        0, 0, 0, 0, 0, cursor, cursor)
    _record_run(con, report, utc_now(), outcome, message)
    return report


# Spotify launched in 2008 and Last.fm's scrobbling (Audioscrobbler) in 2002: a play dated before
# its source existed is a broken record, and so is one after the run's clock plus a little slack.
# Rejecting them keeps the API cursor moving and keeps every table whose size follows the span of
# dates (the hourly grid) the size of the real history.
EARLIEST_PLAY = "2006-01-01"
EARLIEST_SCROBBLE = "2002-01-01"
SCROBBLE_SOURCES = ("lastfm", "listenbrainz")  # their plays are timed by their start (raw.plays.started_at)
PLAYED_AT_SLACK = timedelta(days=1)
_BAD_PLAY = ("listener_id is null or track_id is null or played_at is null or ms_played is null or ms_played < 0 "
             "or played_at < earliest_allowed or played_at > latest_allowed")


def _earliest(source: str) -> str:
    return EARLIEST_SCROBBLE if source in SCROBBLE_SOURCES else EARLIEST_PLAY


# sources whose end times are cut to the minute: a key's different records are added up (see above)
MINUTE_SOURCES = ("account_data",)


def _insert_new_plays(con, source: str, run_id: str, at: datetime) -> tuple[int, int]:
    """Insert the registered `plays` whose key is not stored yet, one per key (the module's
    folding rule); return (inserted, folded)."""
    columns = ", ".join(PLAY_SCHEMA.names)
    others = ", ".join(c for c in PLAY_SCHEMA.names if c != "ms_played")
    kept_ms = "sum(ms_played)" if source in MINUTE_SOURCES else "max(ms_played)"
    con.execute(
        f"""
        create or replace temp table folded_plays as
        with valid as (
            select * from plays p, (select ?::timestamp as earliest_allowed, ?::timestamp as latest_allowed)
            where not ({_BAD_PLAY})
        ),
        records as (  -- exact repeats are one record (the first)
            select {columns}, min(record_no) as record_no from valid group by all
        ),
        keyed as (
            select *, {kept_ms} over same_key as kept_ms, count(*) over same_key as records,
                   row_number() over (partition by listener_id, track_id, played_at
                                      order by ms_played desc, record_no) as rank_in_key
            from records
            window same_key as (partition by listener_id, track_id, played_at)
        )
        select {others}, kept_ms as ms_played, records from keyed where rank_in_key = 1
        """,
        [_earliest(source), at + PLAYED_AT_SLACK],
    )
    try:
        folded = con.execute("select coalesce(sum(records - 1), 0) from folded_plays").fetchone()[0]
        inserted = con.execute(
            f"""
            insert into raw.plays ({columns}, source, ingest_run_id, loaded_at)
            select {columns}, ?, ?, ? from folded_plays p
            where not exists (
                select 1 from raw.plays r
                where r.listener_id = p.listener_id and r.track_id = p.track_id and r.played_at = p.played_at)
            """,
            [source, run_id, at],
        ).fetchone()[0]
    finally:
        con.execute("drop table if exists folded_plays")
    return int(inserted), int(folded)


def _reject_bad_plays(con, source: str, run_id: str, at: datetime) -> dict[str, int]:
    """Plays with a missing key, a negative duration, or a time before their source existed or after
    this run's clock (plus PLAYED_AT_SLACK) go to raw.rejected_records with the reason; returns
    the count per reason (the part before the colon)."""
    service = "Last.fm" if source in SCROBBLE_SOURCES else "Spotify"
    con.execute(
        f"""
        insert into raw.rejected_records
        select ?, ?, 'play #' || record_no::varchar,
               case when listener_id is null then 'missing listener_id'
                    when track_id is null then 'missing track_id'
                    when played_at is null then 'missing played_at'
                    when ms_played is null or ms_played < 0 then 'negative or missing ms_played'
                    when played_at < earliest_allowed then 'played_at before {service} existed: '
                         || strftime(played_at, '%Y-%m-%dT%H:%M:%SZ')
                    else 'played_at in the future: ' || strftime(played_at, '%Y-%m-%dT%H:%M:%SZ') end,
               to_json(struct_pack(listener_id, track_id, played_at, ms_played))::varchar,
               ?
        from plays, (select ?::timestamp as earliest_allowed, ?::timestamp as latest_allowed)
        where {_BAD_PLAY}
        """,
        [run_id, source, at, _earliest(source), at + PLAYED_AT_SLACK])
    return dict(con.execute("select split_part(reason, ':', 1), count(*) from raw.rejected_records "
                            "where ingest_run_id = ? group by 1", [run_id]).fetchall())


def _record_run(con, report: LoadReport, started: datetime, outcome: str, message: str | None) -> None:
    con.execute(
        """
        insert into raw.ingest_runs (ingest_run_id, listener_id, source, started_at, finished_at, outcome,
            records_read, plays_inserted, plays_duplicate, plays_folded, records_rejected, records_set_aside,
            cursor_before, cursor_after, message)
        values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        """,
        [
            report.ingest_run_id, report.listener_id, report.source, started, utc_now(), outcome,
            report.records_read, report.plays_inserted, report.plays_duplicate, report.plays_folded,
            report.records_rejected,
            report.records_set_aside, report.cursor_before, report.cursor_after, message,
        ],
    )
