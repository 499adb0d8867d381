"""DDL for the tables Python writes: `raw.*` (landing) and `ml.*` (model outputs).

dbt reads both as sources; it owns everything in `staging`, `intermediate` and `marts`.
All timestamps are naive UTC (`TIMESTAMP`), so no session time zone can shift them.
"""

from __future__ import annotations

import duckdb

RAW_DDL = """
create schema if not exists raw;

create table if not exists raw.listeners (
    listener_id   varchar primary key,
    display_name  varchar,
    timezone      varchar not null,      -- IANA name; local hours are computed in it
    source        varchar not null,
    ingest_run_id varchar not null,
    loaded_at     timestamp not null
);

create table if not exists raw.ingest_runs (
    ingest_run_id    varchar primary key,
    listener_id      varchar not null,
    source           varchar not null,   -- demo | spotify_api | extended_history | account_data | lastfm | listenbrainz
    started_at       timestamp not null,
    finished_at      timestamp,
    outcome          varchar not null,   -- success | failed | rate_limited | auth_expired | unavailable
    records_read     integer not null default 0,
    plays_inserted   integer not null default 0,
    plays_duplicate  integer not null default 0,  -- the same play again (an exact repeat, or already stored)
    plays_folded     integer not null default 0,  -- other records of a play's track and end time, merged into it
    records_rejected integer not null default 0,
    records_set_aside integer not null default 0,  -- podcasts, audiobooks, videos: not music plays
    cursor_before    bigint,             -- newest played_at before the run, Unix ms
    cursor_after     bigint,
    message          varchar
);

-- One row per (listener_id, track_id, played_at). No primary key: its index made a
-- million-play import twice as slow. The loader (warehouse/loaders.py, the only writer)
-- inserts only keys not stored yet, and a dbt test on the source checks it.
create table if not exists raw.plays (
    listener_id   varchar not null,
    track_id      varchar not null,
    played_at     timestamp not null,    -- UTC, when the play ended (as Spotify reports it)
    ms_played     integer not null,
    skipped       boolean,
    reason_start  varchar,
    reason_end    varchar,
    shuffle       boolean,
    context_uri   varchar,
    platform      varchar,               -- the kind of device only (schema.PLATFORM_KINDS)
    source        varchar not null,
    ingest_run_id varchar not null,
    loaded_at     timestamp not null,
    -- last, as ADDED_COLUMNS adds it to older warehouses: UTC, when the play started, from sources
    -- that time a play by its start (scrobblers), whose played_at is this plus the length they give (or 0)
    started_at    timestamp
);

create table if not exists raw.tracks (
    track_id        varchar primary key,
    track_name      varchar,
    album_id        varchar,
    album_name      varchar,
    album_image_url varchar,
    duration_ms     integer,
    artist_ids      varchar[],
    artist_names    varchar[],
    source          varchar not null,
    ingest_run_id   varchar not null,
    loaded_at       timestamp not null
);

create table if not exists raw.artists (
    artist_id     varchar primary key,
    artist_name   varchar,
    genres        varchar[],
    source        varchar not null,
    ingest_run_id varchar not null,
    loaded_at     timestamp not null
);

create table if not exists raw.audio_features (
    track_id         varchar primary key,
    danceability     double,
    energy           double,
    valence          double,
    acousticness     double,
    instrumentalness double,
    speechiness      double,
    liveness         double,
    loudness         double,
    tempo            double,
    provider         varchar not null,
    ingest_run_id    varchar not null,
    loaded_at        timestamp not null
);

create table if not exists raw.feature_lookups (
    track_id      varchar not null,      -- every track an audio-feature provider was asked about
    provider      varchar not null,
    found         boolean not null,
    looked_up_at  timestamp not null,
    primary key (track_id, provider)
);

create table if not exists raw.catalog_lookups (
    item_kind     varchar not null,      -- track | artist: a Spotify catalogue call that found nothing
    item_id       varchar not null,
    found         boolean not null,
    looked_up_at  timestamp not null,
    primary key (item_kind, item_id)
);

create table if not exists raw.enrichment_runs (
    enrichment_run_id varchar primary key,
    started_at        timestamp not null,
    finished_at       timestamp not null,
    spotify_calls     integer not null,  -- counted against SPOTIFY_BRAIN_API_CALLS_PER_DAY
    tracks_resolved   integer not null,
    artists_fetched   integer not null,
    features_found    integer not null,
    stopped           varchar,           -- why Spotify lookups ended early, if they did
    message           varchar,
    providers         json               -- per provider: requests, asked, found, stopped, reachable
);

-- What the keyless providers found (ingest/enrichment/): a track's MusicBrainz recording as
-- ListenBrainz matched it by name, its release year and cover art ids
create table if not exists raw.recordings (
    track_id           varchar primary key,  -- ours: a Spotify id or a name-based id
    recording_mbid     varchar not null,
    recording_name     varchar,
    artist_credit_name varchar,
    artist_mbids       varchar[],
    release_mbid       varchar,
    release_name       varchar,
    release_year       integer,
    caa_release_mbid   varchar,              -- the release whose cover art the Cover Art Archive holds
    caa_id             bigint,
    recording_genres   varchar[],            -- MusicBrainz genres of the recording, most voted first
    provider           varchar not null,
    loaded_at          timestamp not null
);

-- MusicBrainz genres of an artist (tags that are genres), with their votes and where they came from
create table if not exists raw.artist_genres (
    artist_mbid   varchar not null,
    artist_name   varchar,
    genre         varchar not null,
    votes         integer,
    source        varchar not null,          -- musicbrainz (through ListenBrainz)
    loaded_at     timestamp not null,
    primary key (artist_mbid, genre, source)
);

-- A name-only track's Spotify id, as a provider found it from the names (dbt resolves the plays)
create table if not exists raw.track_links (
    name_track_id varchar primary key,
    track_id      varchar not null,
    provider      varchar not null,
    loaded_at     timestamp not null
);

-- Every item a keyless provider was asked about, found or not: never asked again unless retried
create table if not exists raw.metadata_lookups (
    provider      varchar not null,          -- listenbrainz | listenbrainz_labs | spotify_oembed
    item_id       varchar not null,
    found         boolean not null,
    looked_up_at  timestamp not null,
    primary key (provider, item_id)
);

create table if not exists raw.rejected_records (
    ingest_run_id varchar not null,
    source        varchar not null,
    record_ref    varchar not null,      -- file and record number, or API item index
    reason        varchar not null,
    payload       varchar,
    rejected_at   timestamp not null
);
"""

ML_DDL = """
create schema if not exists ml;

create table if not exists ml.mood_clusters (
    run_id           varchar not null,
    cluster_id       integer not null,
    label            varchar not null,
    size             integer not null,
    valence          double not null,
    energy           double not null,
    danceability     double not null,
    acousticness     double not null,
    instrumentalness double not null,
    tempo_norm       double not null,
    primary key (run_id, cluster_id)
);

-- Rewritten on every run, as are the two predictions tables below: no primary key, because DuckDB
-- never reclaims the deleted rows of a table with an index (a month of 30-minute refreshes kept a
-- million dead mood rows). Each writer deletes its rows before it inserts the new ones (one job
-- writes at a time); dbt's unique test on stg_ml__track_moods and the tests check the grain.
create table if not exists ml.track_moods (
    track_id        varchar not null,
    mood_cluster_id integer not null,
    mood_run_id     varchar not null
);

create table if not exists ml.model_runs (
    run_id               varchar primary key,
    model_name           varchar not null,   -- mood_clusters | next_mood | session_start
    listener_id          varchar,
    trained_at           timestamp not null,
    params               json,
    data_start           timestamp,
    data_end             timestamp,
    n_train              integer,
    n_val                integer,
    metrics              json,               -- the model's own metrics, nulls where undefined
    baselines            json,               -- {baseline_name: metrics}
    served               varchar,            -- model | <name>_baseline
    model_beats_baseline boolean,
    confidence_kind      varchar,
    artifact_path        varchar,
    note                 varchar,
    oracle               json                -- demo listeners: the generator's own holdout figures
);

-- Tracks new to a listener for a mood (ml/recommendations.py): the set of the current clustering
-- only, one per mood at most, replaced when fetched again (so it never grows); and the last fetch
-- per listener and mood, with its outcome and why it found nothing, if it did not
create table if not exists ml.recommendations (
    listener_id     varchar not null,
    mood_run_id     varchar not null,
    mood_cluster_id integer not null,
    rank            integer not null,
    track_id        varchar not null,        -- a Spotify id the listener never played
    track_name      varchar,
    artist_name     varchar,
    image_url       varchar,
    distance        double,                  -- to the mood's centroid, in the clustering's scaled units
    fetched_at      timestamp not null
);

create table if not exists ml.recommendation_fetches (
    listener_id     varchar not null,
    mood_run_id     varchar not null,
    mood_cluster_id integer not null,
    fetched_at      timestamp not null,
    outcome         varchar not null,        -- found | none_in_mood | no_seeds | unreachable | off
    note            varchar
);

create table if not exists ml.next_mood_predictions (
    listener_id     varchar not null,
    run_id          varchar not null,
    as_of           timestamp not null,      -- the last play the prediction follows
    mood_cluster_id integer not null,
    probability     double not null
);

create table if not exists ml.session_start_predictions (
    listener_id       varchar not null,
    run_id            varchar not null,
    hour_start_local  timestamp not null,
    local_hour        integer not null,
    probability       double not null
);
"""


# The kind of device a play ran on, from Spotify's platform string: the kind only, never the
# device model or OS build a string like "Android OS 10 API 29 (samsung, SM-G973F)" carries.
PLATFORM_KINDS = ("android", "ios", "windows", "macos", "linux", "web", "speaker_or_tv", "other")


def platform_kind_sql(column: str) -> str:
    lowered = f"lower({column})"

    def like(*words: str) -> str:
        return " or ".join(f"{lowered} like '%{word}%'" for word in words)

    return (f"case when {column} is null then null when {like('web', 'browser')} then 'web' "
            f"when {like('android')} then 'android' when {like('ios', 'iphone', 'ipad')} then 'ios' "
            f"when {like('windows')} then 'windows' when {like('os x', 'osx', 'macos')} then 'macos' "
            f"when {like('linux')} then 'linux' when {like('partner', 'cast', 'sonos', 'tv', 'speaker')} "
            f"then 'speaker_or_tv' else 'other' end")


# columns added after a table was first released: warehouses built before get them here
ADDED_COLUMNS = ["alter table raw.plays add column if not exists started_at timestamp",
                 "alter table raw.ingest_runs add column if not exists records_set_aside integer default 0",
                 "alter table raw.ingest_runs add column if not exists plays_folded integer default 0",
                 "alter table raw.enrichment_runs add column if not exists providers json",
                 "alter table ml.model_runs add column if not exists oracle json"]
# values stored before a rule existed, brought in line with it (each a no-op once done)
CLEANUPS = [f"update raw.plays set platform = {platform_kind_sql('platform')} "
            f"where platform not in ({', '.join(repr(kind) for kind in PLATFORM_KINDS)})"]


# tables that had a primary key before it was dropped (see ML_DDL): rebuilt once without it
KEYS_DROPPED = ["track_moods", "next_mood_predictions", "session_start_predictions"]


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create every Python-owned table that is missing; existing data is left alone, except that
    what no longer may be kept (a device's full platform string) is reduced to what may, and
    tables that lost their primary key are rebuilt without it (once)."""
    con.execute(RAW_DDL)
    con.execute(ML_DDL)
    for statement in ADDED_COLUMNS + CLEANUPS:
        con.execute(statement)
    for table in KEYS_DROPPED:
        _drop_primary_key(con, table)


def _drop_primary_key(con: duckdb.DuckDBPyConnection, table: str) -> None:
    """DuckDB cannot drop a constraint: the table is copied into one made by ML_DDL, in one
    transaction (its live rows only, so the dead ones it kept are gone with it)."""
    keyed = con.execute("select count(*) from duckdb_constraints() where database_name = current_database() "
                        "and schema_name = 'ml' and table_name = ? and constraint_type = 'PRIMARY KEY'",
                        [table]).fetchone()[0]
    if not keyed:
        return
    con.execute("begin transaction")
    try:
        con.execute(f"alter table ml.{table} rename to {table}__keyed")
        con.execute(ML_DDL)
        con.execute(f"insert into ml.{table} by name select * from ml.{table}__keyed")
        con.execute(f"drop table ml.{table}__keyed")
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise
