"""Dagster's SQLite run and event storages, with their database connections kept open, synced to
disk at checkpoints rather than at every event, and a deleted run's event file removed.
Configured in orchestration/dagster.yaml; the files and their layout under DAGSTER_HOME are
Dagster's own, so an existing home reads as before.

Why: Dagster's SQLite storages build a new SQLAlchemy engine and connection for every read and
write. A full retrain stores about 340 events (a dbt model is a materialization, a dbt test an
asset check, each planned first), and the engine churn alone cost about 1.7 s of a 2,000-play
retrain. Here each database file keeps one engine: the index, the runs table and the few run
files being written (a long-lived `dagster dev` keeps no more than those open).

And: deleting a run (the prune of SPOTIFY_BRAIN_KEEP_RUNS_DAYS) deletes its rows but left its own
`history/runs/<run id>.db` on disk, and its asset check results in the index (Dagster deletes a
run's events, not the `asset_check_executions` rows they made, about 4 KB per dbt test per run),
so a schedule's runs grew the folder for ever.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from contextlib import contextmanager, suppress

from dagster._config import Field, StringSource
from dagster._core.storage.event_log.schema import AssetCheckExecutionsTable
from dagster._core.storage.event_log.sqlite.sqlite_event_log import (
    INDEX_SHARD_NAME, SQLITE_BUSY_TIMEOUT_SECONDS, SqliteEventLogStorage,
)
from dagster._core.storage.runs.sqlite.sqlite_run_storage import SqliteRunStorage
from sqlalchemy import create_engine, event, select, text

OPEN_RUN_FILES = 4
# a run's file holds about 25 tables and indexes, each at least a page, for a few hundred events:
# a refresh with nothing new left a 360 KB file at SQLite's default 4 KB pages, 265 KB at 1 KB.
# Only a new file takes the size (one already written keeps its own); the index, one long-lived
# file whose size is its rows, keeps the default
RUN_FILE_PAGE_BYTES = 1024
# Dagster indexes a check's results by asset and check only: deleting a run's would scan them all
CHECK_RESULTS_BY_RUN = ("create index if not exists idx_asset_check_executions_by_run "
                        "on asset_check_executions (run_id)")


def _history(config_value: dict, *parts: str) -> str:
    """Dagster's default place: $DAGSTER_HOME/history/..., unless base_dir is configured."""
    return config_value.get("base_dir") or os.path.join(os.environ["DAGSTER_HOME"], "history", *parts, "")


class PooledSqliteRunStorage(SqliteRunStorage):
    """Runs in $DAGSTER_HOME/history/runs.db, through one engine."""

    @classmethod
    def config_type(cls):
        return {"base_dir": Field(StringSource, is_required=False)}

    @classmethod
    def from_config_value(cls, inst_data, config_value):
        return cls.from_local(inst_data=inst_data, base_dir=_history(config_value))

    def __init__(self, conn_string: str, inst_data=None):
        self._engine = create_engine(conn_string)
        event.listen(self._engine, "connect", _sync_at_checkpoints)
        super().__init__(conn_string, inst_data)

    @contextmanager
    def connect(self):
        with self._engine.connect() as conn, conn.begin():
            yield conn

    def dispose(self) -> None:
        self._engine.dispose()
        super().dispose()


def _small_pages(dbapi_connection, _record) -> None:
    dbapi_connection.execute(f"PRAGMA page_size = {RUN_FILE_PAGE_BYTES}")


def _sync_at_checkpoints(dbapi_connection, _record) -> None:
    # Dagster's files are in WAL mode, where SQLite's default syncs the disk at every commit: an
    # event is a commit, and those syncs were 0.8 s of a 2,000-play retrain's 340 events. NORMAL
    # syncs at checkpoints only: a crash of the process loses nothing, a power cut at most the
    # last events, and neither corrupts the file (SQLite's documented guarantee for WAL)
    dbapi_connection.execute("PRAGMA synchronous = NORMAL")


class PooledSqliteEventLogStorage(SqliteEventLogStorage):
    """Events in $DAGSTER_HOME/history/runs/ (one file per run and an index), one engine per file
    for the index and the few most recently used run files."""

    @classmethod
    def config_type(cls):
        return {"base_dir": Field(StringSource, is_required=False)}

    @classmethod
    def from_config_value(cls, inst_data, config_value):
        return cls(inst_data=inst_data, base_dir=_history(config_value, "runs"))

    def __init__(self, base_dir: str, inst_data=None):
        self._engines: OrderedDict = OrderedDict()  # before Dagster's __init__, which may connect
        super().__init__(base_dir, inst_data)

    @contextmanager
    def _connect(self, shard: str):
        with self._db_lock:  # as Dagster's: one statement at a time per storage (watcher threads)
            engine = self._engine_for(shard)
            if shard not in self._initialized_dbs:
                self._initdb(engine)
                if shard == INDEX_SHARD_NAME:
                    with engine.begin() as conn:
                        conn.execute(text(CHECK_RESULTS_BY_RUN))
                self._initialized_dbs.add(shard)
            with engine.connect() as conn, conn.begin():
                yield conn

    def _engine_for(self, shard: str):
        engines = self._engines
        if shard in engines:
            engines.move_to_end(shard)
            return engines[shard]
        engines[shard] = engine = create_engine(self.conn_string_for_shard(shard),
                                                connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS})
        event.listen(engine, "connect", _sync_at_checkpoints)
        if shard != INDEX_SHARD_NAME:
            event.listen(engine, "connect", _small_pages)
        run_files = [name for name in engines if name != INDEX_SHARD_NAME]
        for name in run_files[:-OPEN_RUN_FILES]:
            engines.pop(name).dispose()
        return engines[shard]

    def _close(self, shard: str) -> None:
        engine = self._engines.pop(shard, None)
        if engine is not None:
            engine.dispose()

    def delete_events(self, run_id: str) -> None:
        """The run's events, its asset check results, and its file: deleted rows alone leave the
        file's pages on disk."""
        super().delete_events(run_id)
        with self.index_connection() as conn:
            conn.execute(AssetCheckExecutionsTable.delete().where(AssetCheckExecutionsTable.c.run_id == run_id))
        with self._db_lock:
            self._close(run_id)
            self._initialized_dbs.discard(run_id)
            for suffix in ("", "-wal", "-shm"):
                with suppress(FileNotFoundError):
                    os.unlink(self.path_for_shard(run_id) + suffix)

    def check_result_run_ids(self) -> set[str]:
        with self.index_connection() as conn:
            return {row[0] for row in conn.execute(select(AssetCheckExecutionsTable.c.run_id).distinct())}

    def delete_check_results(self, run_ids: set[str]) -> None:
        """Asset check results of runs deleted before delete_events removed them too."""
        ids = sorted(run_ids)
        with self.index_connection() as conn:
            for start in range(0, len(ids), 500):  # under SQLite's limit of bound values
                conn.execute(AssetCheckExecutionsTable.delete().where(
                    AssetCheckExecutionsTable.c.run_id.in_(ids[start:start + 500])))

    def dispose(self) -> None:
        with self._db_lock:
            for shard in list(self._engines):
                self._close(shard)
        super().dispose()
