"""`spotify-brain`: run the Dagster jobs in this process, import histories, pull plays, check, benchmark.

Every run is recorded in the Dagster instance `make dev` opens (DAGSTER_HOME, by default
data/dagster_home), so the UI shows what the command did.
"""

from __future__ import annotations

import argparse
import atexit
import logging
import os
import sys
from importlib.metadata import version
from pathlib import Path

from orchestration.runner import dagster_instance, execute, run_job, say
from warehouse.settings import Settings, SettingsError, check_listener_id, load_settings

JOBS = ("full_retrain", "refresh")
# the provider names raw.metadata_lookups and raw.feature_lookups keep answers under
RETRY_PROVIDERS = ("all", "listenbrainz", "listenbrainz_labs", "spotify_oembed", "reccobeats", "spotify", "file")
# the warehouse, its write-ahead log, model artifacts and run records hold a listening history:
# whatever this command creates is for its owner only (the export is made readable on purpose)
PRIVATE = 0o077


def _summary(settings: Settings, wait_s: float) -> str:
    """Each listener's plays, sessions and served models after a run; what there is of them after a
    first run that stopped early (its failure was printed as it happened). After a failed run it
    does not wait for the file: the failure may be that someone holds it."""
    from warehouse.connection import WarehouseBusyError, read_connection

    needed = {"raw.listeners", "marts.fct_plays", "marts.fct_sessions", "ml.model_runs"}
    try:
        with read_connection(settings.warehouse, settings.duckdb_memory_limit, wait_s) as con:
            built = {name for (name,) in con.execute(
                "select table_schema || '.' || table_name from information_schema.tables").fetchall()}
            if not needed <= built:
                return "nothing built yet: the first run stopped before dbt built the tables"
            rows = con.execute(
                """
                select l.listener_id,
                       (select count(*) from marts.fct_plays p where p.listener_id = l.listener_id),
                       (select count(*) from marts.fct_sessions s where s.listener_id = l.listener_id),
                       (select string_agg(model_name || ': ' || served, ', ' order by model_name) from (
                            select model_name, served from ml.model_runs r where r.listener_id = l.listener_id
                            qualify row_number() over (partition by model_name
                                                       order by data_end desc nulls last, trained_at desc) = 1))
                from raw.listeners l order by l.listener_id
                """).fetchall()
    except (FileNotFoundError, WarehouseBusyError) as exc:
        return f"no summary: {exc}"
    return "\n".join(f"listener {listener}: {plays} plays in {sessions} sessions; models served: "
                     f"{served or 'none trained yet'}\n  export: {settings.export_path_for(listener).resolve()}"
                     for listener, plays, sessions, served in rows)


def import_history(args: argparse.Namespace, settings: Settings) -> int:
    """Import a data download as a run of the import_history job; print the report and what the
    coming runs will still do. Exit 1 if a file could not be read (the other files landed), or if
    nothing in the path was streaming history at all."""
    from orchestration.project import ensure_manifest

    path = Path(args.path)
    if not path.exists():  # checked before anything is created
        say(f"import: {path}: no such file or folder")
        return 1
    listener = settings.listener_id if args.listener is None else args.listener
    try:  # the one check every door's listener id goes through, before anything is created
        check_listener_id(listener)
    except ValueError as exc:
        say(f"import: --listener: {exc}")
        return 1
    ensure_manifest(settings)
    config = {"path": str(path.resolve()), "listener_id": listener,
              "display_name": args.display_name or "", "timezone": args.timezone or ""}
    from warehouse.connection import job_lock

    with dagster_instance() as instance, job_lock(settings.warehouse, settings.writer_lock_timeout_s):
        result = execute("import_history", instance, settings, run_config={"ops": {"ingest": {"config": config}}})
    if not result.success:  # the failed step's error was printed as it happened
        return 1
    plays = _metadata(result, "ingest", ["raw", "plays"])
    features = _metadata(result, "enrichment", ["raw", "audio_features"])
    lines = plays["events"]
    print(f"listener {config['listener_id']}: " + "\n".join(line for line in lines if "FAILED" not in line))
    for line in lines:
        if "FAILED" in line:
            print(line, file=sys.stderr)
    print(_what_next(features, settings))
    checks = [c for c in result.get_asset_check_evaluations() if c.check_name == "import_files_readable"]
    if any(c.metadata["nothing_to_import"].value for c in checks):
        print(f"import: nothing to import in {path}: no listening-history file in it (the lines above name "
              "what was there); point it at the zip Spotify sent or the folder inside it, a Last.fm export (CSV or "
              "JSON) or ListenBrainz's export zip", file=sys.stderr)
    return 0 if all(c.passed for c in checks) else 1


def _metadata(result, node: str, key: list[str]) -> dict:
    materialization = next(m for m in result.asset_materializations_for_node(node) if m.asset_key.path == key)
    return {name: value.value for name, value in materialization.metadata.items()}


def _what_next(enriched: dict, settings: Settings) -> str:
    """What enrichment reached, what each provider did, and what the coming runs will do."""
    from ingest.enrichment.run import NO_APP

    lines = [f"enrichment: {enriched['tracks_without_features']} tracks still without audio features, "
             f"{enriched['tracks_without_artists']} without Spotify artists, {enriched['artists_without_genres']} "
             f"Spotify artists without genres"]
    lines += [f"  {line}" for line in enriched.get("providers", [])]
    if settings.keyless_lookups:
        lines.append(f"  each scheduled run asks the keyless providers about the most-played of the rest, at most "
                     f"{settings.lookups_per_run} requests each (SPOTIFY_BRAIN_LOOKUPS_PER_RUN): MusicBrainz genres "
                     f"and release years, album art, Spotify ids for account-data plays")
    else:
        lines.append("  keyless lookups are off (SPOTIFY_BRAIN_KEYLESS_LOOKUPS=false): no genres, art or Spotify ids "
                     "for account-data plays without a Spotify app")
    if enriched["tracks_without_artists"] or enriched["artists_without_genres"]:
        if settings.spotify_client_id and settings.spotify_client_secret:
            lines.append(f"  Spotify's own genres: each scheduled run looks up the most-played next, at most "
                         f"{settings.api_calls_per_run} Spotify calls per run and {settings.api_calls_per_day} a day "
                         f"(SPOTIFY_BRAIN_API_CALLS_PER_RUN / _PER_DAY)")
        else:
            lines.append("  Spotify's own genres need a Spotify app (SPOTIFY_CLIENT_ID and SPOTIFY_CLIENT_SECRET, no "
                         "user login); without one the genres are MusicBrainz's")
    if enriched["tracks_without_features"]:
        provider = settings.audio_features
        lines.append("  audio features: SPOTIFY_BRAIN_AUDIO_FEATURES=none, so those tracks get no mood"
                     if provider == "none" else
                     f"  audio features: the coming runs ask {provider} about the rest; a track it did not know is "
                     f"not asked again (spotify-brain enrich --retry asks again)")
    stopped = enriched.get("stopped")
    if stopped and stopped not in ("no", NO_APP):  # no app: said above
        lines.append(f"  this run stopped early: {stopped}")
    return "\n".join(lines)


def enrich_now(args: argparse.Namespace, settings: Settings) -> int:
    """The enrichment step now, as a run of its own; with --retry, a provider's "not found"
    answers are forgotten first, so those tracks are asked again."""
    from ingest.enrichment.run import enrich
    from warehouse.connection import write_connection
    from warehouse.loaders import forget_lookups
    from warehouse.schema import ensure_schema

    with write_connection(settings.warehouse, settings.writer_lock_timeout_s, settings.duckdb_memory_limit) as con:
        ensure_schema(con)
        if args.retry:
            forgotten = forget_lookups(con, None if args.retry == "all" else args.retry)
            print(f"asking again about {forgotten} item(s) {args.retry} did not know")
        report = enrich(con, settings)
    print(f"enrichment: {report.summary()}")
    for why in report.unreachable():
        print(f"  {why}", file=sys.stderr)
    return 0


def ingest_now(settings: Settings) -> int:
    """Pull new plays for every configured listener now, then enrich (the refresh job's first two steps)."""
    from ingest.enrichment.run import enrich
    from ingest.results import IngestError
    from ingest.sources import run_ingest
    from warehouse.connection import write_connection
    from warehouse.schema import ensure_schema

    try:
        with write_connection(settings.warehouse, settings.writer_lock_timeout_s,
                              settings.duckdb_memory_limit) as con:
            ensure_schema(con)
            result = run_ingest(con, settings)
            enriched = enrich(con, settings)
    except (IngestError, SettingsError) as exc:
        print(f"spotify-brain ingest: {exc}", file=sys.stderr)
        return 1
    print(f"source {result.source}")
    for report in result.reports:
        folded = f", {report.plays_folded} folded" if report.plays_folded else ""  # only sources with coarse times
        print(f"  {report.listener_id}: {report.records_read} read, {report.plays_inserted} inserted, "
              f"{report.plays_duplicate} duplicate{folded}, {report.records_rejected} rejected, "
              f"{report.records_set_aside} set aside (run {report.ingest_run_id})")
    for event in result.events:
        print(f"  {event}")
    print(f"enrichment: {enriched.summary()}")
    return 0


def auth(settings: Settings) -> int:
    from ingest.spotify.auth import authorize
    from ingest.spotify.client import SpotifyAuthError

    try:
        token = authorize(settings)
    except SpotifyAuthError as exc:
        print(f"spotify-brain auth: {exc}", file=sys.stderr)
        return 1
    print("\nYour refresh token (a secret: put it in .env or a CI secret, never in git):\n")
    print(f"SPOTIFY_REFRESH_TOKEN={token}")
    return 0


def parser() -> argparse.ArgumentParser:
    formatter = argparse.ArgumentDefaultsHelpFormatter
    top = argparse.ArgumentParser(prog="spotify-brain", description=__doc__.splitlines()[0], formatter_class=formatter)
    top.add_argument("--version", action="version", version=f"%(prog)s {version('spotify-brain')}")
    commands = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    run = commands.add_parser("run", help="run a job (and then each listener's part of it) in this process",
                              formatter_class=formatter)
    run.add_argument("--job", choices=JOBS, default="full_retrain",
                     help="full_retrain: everything, models retrained (daily); refresh: new plays, predictions "
                          "from the stored models, exports (every 30 minutes)")
    commands.add_parser("ingest", help="pull new plays for every configured listener now, and enrich them")
    enricher = commands.add_parser("enrich", help="look up genres, art, audio features and Spotify ids now",
                                   formatter_class=formatter)
    enricher.add_argument("--retry", choices=RETRY_PROVIDERS,
                          help="ask again about what this provider (or all) did not know")
    commands.add_parser("auth", help="authorise with Spotify once and print the refresh token")
    importer = commands.add_parser("import", help="import a listening history: Spotify's data download (the "
                                                  "privacy export), a Last.fm or a ListenBrainz export",
                                   formatter_class=formatter)
    importer.add_argument("path", help="the my_spotify_data.zip Spotify sent, its unpacked folder, single "
                                       "Streaming_History_*.json / StreamingHistory*.json files, a Last.fm export "
                                       "(CSV or JSON) or ListenBrainz's export zip; a folder may hold several")
    importer.add_argument("--listener", help="whose history it is (default: SPOTIFY_BRAIN_LISTENER_ID)")
    importer.add_argument("--display-name", help="a new listener's name, as the dashboard shows it")
    importer.add_argument("--timezone", help="a new listener's IANA timezone, e.g. Europe/Berlin (required for a "
                                             "listener the warehouse and settings do not know)")
    real = commands.add_parser("check-real", help="run data downloads (yours, or a panel of real ones) through "
                               "import, refresh and full_retrain in fresh folders and check what must hold",
                               formatter_class=formatter)
    from orchestration.real_check.command import add_arguments as real_arguments

    real_arguments(real)
    bench = commands.add_parser("bench", help="time the real commands on demo histories and print the figures",
                                formatter_class=formatter)
    from orchestration.benchmark.command import add_arguments

    add_arguments(bench)
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    os.umask(PRIVATE)
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"spotify-brain: {exc}", file=sys.stderr)
        return 2
    from warehouse.connection import WarehouseBusyError

    try:
        if args.command == "import":
            return import_history(args, settings)
        if args.command == "ingest":
            return ingest_now(settings)
        if args.command == "enrich":
            return enrich_now(args, settings)
        if args.command == "auth":
            return auth(settings)
        if args.command == "run":
            ok = run_job(args.job, settings)
            print(_summary(settings, wait_s=settings.writer_lock_timeout_s if ok else 0))
            return 0 if ok else 1
        from orchestration.project import ensure_manifest

        ensure_manifest(settings)  # the commands they start load the definitions, which read dbt's manifest
        if args.command == "check-real":
            from orchestration.real_check.command import run_check

            return run_check(args)
        from orchestration.benchmark.command import run_benchmark

        run_benchmark(args)
        return 0
    except (WarehouseBusyError, SettingsError) as exc:
        print(f"spotify-brain: {exc}", file=sys.stderr)
        return 1


def entry() -> None:
    """The console script. Exits without the interpreter's teardown of dbt's and Dagster's object
    graphs (a second and more of a person's wait, and nothing left to do by then: connections are
    closed, files written by rename, run records committed); exit handlers and logs still run."""
    from orchestration.heap import freeze_when_loaded

    freeze_when_loaded()
    code = main()
    atexit._run_exitfuncs()
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    entry()
