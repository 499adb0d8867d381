"""The check-real command: the commands in fresh folders, then the warehouse held to the count of
the files (see the package's docstring)."""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from orchestration.benchmark.folders import Folder
from orchestration.real_check.count import DownloadCount, count_download

MINUTES_TOLERANCE = 0.05  # minutes per year: rounding of the two sums
ROUNDING = 0.011  # one artist's minutes, each side rounded to the hundredth


def add_arguments(command) -> None:
    command.add_argument("folder", help="a folder of data downloads, one per listener: zips, folders, JSON, JSON-lines "
                                        "or CSV files (Spotify's privacy export; Last.fm's and ListenBrainz's exports, "
                                        "alone or in a folder beside it)")
    command.add_argument("--timezone", default="UTC", help="the timezone every listener is imported with")
    command.add_argument("--audio-features-file", help="a CSV or Parquet of audio features (track_id and the "
                                                       "feature columns); without it, no moods")
    command.add_argument("--online", action="store_true", help="let the keyless providers (ListenBrainz, "
                         "Spotify oEmbed, ReccoBeats) be asked, as a scheduled run would; off, nothing leaves the machine")
    command.add_argument("--json", default="real_check.json", help="where to write the figures as JSON")
    command.add_argument("--only", nargs="*", help="only these entries of the folder (by name)")


@dataclass
class Outcome:
    label: str
    counted: DownloadCount
    commands: dict = field(default_factory=dict)   # command -> {s, peak_mb, ok, tail}
    problems: list[str] = field(default_factory=list)
    report: dict = field(default_factory=dict)
    models: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems


def entries(folder: Path, only: list[str] | None = None) -> list[Path]:
    """The data downloads in `folder`: every zip, folder, JSON, JSON-lines and CSV file, in name order."""
    found = sorted(p for p in folder.iterdir() if not p.name.startswith(".")
                   and (p.is_dir() or p.suffix.lower() in (".zip", ".json", ".jsonl", ".csv")))
    return [p for p in found if not only or p.name in only]


def check_one(path: Path, label: str, root: Path, timezone: str, features_file: str | None,
              online: bool = False) -> Outcome:
    outcome = Outcome(label, count_download(path, timezone))
    folder = Folder(root, listener="me")
    folder.env |= {"SPOTIFY_BRAIN_TIMEZONE": timezone,
                   "SPOTIFY_BRAIN_AUDIO_FEATURES": "reccobeats" if online else "none",
                   "SPOTIFY_BRAIN_KEYLESS_LOOKUPS": "true" if online else "false"}
    if features_file:
        folder.env |= {"SPOTIFY_BRAIN_AUDIO_FEATURES": "file",
                       "SPOTIFY_BRAIN_AUDIO_FEATURES_FILE": str(Path(features_file).resolve())}
    steps = {"import": ["import", str(path.resolve()), "--listener", "me", "--timezone", timezone],
             "refresh": ["run", "--job", "refresh"], "full_retrain": ["run", "--job", "full_retrain"]}
    for name, args in steps.items():
        result = folder.command(*args, check=False)
        outcome.commands[name] = result
        if not result["ok"]:
            outcome.problems.append(f"{name} failed: {result['tail']}")
            return outcome
    warehouse = root / folder.env["SPOTIFY_BRAIN_WAREHOUSE"]
    _check_export(root / folder.env["SPOTIFY_BRAIN_EXPORT_PATH"], outcome)
    _check_warehouse(warehouse, outcome)
    return outcome


def _check_export(path: Path, outcome: Outcome) -> None:
    from export.write import ExportInvalidError, validate

    try:
        validate(json.loads(path.read_text()))
    except (OSError, ValueError, ExportInvalidError) as exc:
        outcome.problems.append(f"export: {str(exc)[:300]}")


def _check_warehouse(warehouse: Path, outcome: Outcome, listener: str = "me") -> None:
    import duckdb

    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        outcome.problems += accounting_problems(con, listener, outcome.counted, outcome.report)
        outcome.problems += year_problems(con, listener, outcome.counted)
        outcome.models = model_rows(con, listener)
        outcome.problems += model_problems(outcome.models)
    finally:
        con.close()


def accounting_problems(con, listener: str, counted: DownloadCount, report: dict) -> list[str]:
    """What does not add up between the import's report (raw.ingest_runs), the warehouse and the
    files; `report` is filled with the totals."""
    columns = ("records_read", "plays_inserted", "plays_duplicate", "plays_folded", "records_rejected",
               "records_set_aside")
    totals = con.execute(f"select {', '.join(f'coalesce(sum({c}), 0)' for c in columns)} from raw.ingest_runs "
                         "where listener_id = ? and source in ('extended_history', 'account_data', 'lastfm', "
                         "'listenbrainz')",
                         [listener]).fetchone()
    report |= dict(zip(columns, totals))
    report["stored_plays"] = con.execute("select count(*) from raw.plays where listener_id = ?", [listener]).fetchone()[0]
    report["stored_rejects"] = con.execute(
        "select count(*) from raw.rejected_records where ingest_run_id in "
        "(select ingest_run_id from raw.ingest_runs where listener_id = ?)", [listener]).fetchone()[0]
    problems, parts = [], sum(report[c] for c in columns[1:])
    if report["records_read"] != parts:
        problems.append(f"report: {report['records_read']} read but {parts} accounted for")
    if report["records_read"] != counted.records:
        problems.append(f"report: {report['records_read']} records read, the files hold {counted.records}")
    if report["stored_plays"] != report["plays_inserted"]:
        problems.append(f"warehouse: {report['stored_plays']} plays stored, {report['plays_inserted']} reported")
    if report["stored_rejects"] != report["records_rejected"]:
        problems.append(f"warehouse: {report['stored_rejects']} rejects stored, {report['records_rejected']} reported")
    return problems


def year_problems(con, listener: str, counted: DownloadCount) -> list[str]:
    """Years whose minutes or top five artists in the statistics differ from the count of the files."""
    problems = []
    minutes = dict(con.execute("select period, round(minutes_listened, 2) from marts.stats_period_summary "
                               "where listener_id = ? and period_kind = 'year' order by 1", [listener]).fetchall())
    for year in sorted(set(minutes) | set(counted.minutes_by_year)):
        ours, files = minutes.get(year), counted.minutes_by_year.get(year)
        if ours is None or files is None or abs(ours - files) > MINUTES_TOLERANCE:
            problems.append(f"{year}: {ours} minutes in the warehouse, {files} in the files")
    top = {}
    for year, name, mins in con.execute(
            "select period, lower(trim(item_name)), round(minutes_listened, 2) from marts.stats_period_top "
            "where listener_id = ? and period_kind = 'year' and item_kind = 'artist' and rank <= 5 "
            "order by period, rank", [listener]).fetchall():
        top.setdefault(year, []).append((name, mins))
    for year, expected in counted.top_artists_by_year.items():
        if not _same_top(top.get(year, []), expected):
            problems.append(f"{year}: top artists {top.get(year)} in the warehouse, {expected[:5]} in the files")
    return problems


def _same_top(ours: list[tuple[str, float]], files: list[tuple[str, float]]) -> bool:
    """The same five artists with the same minutes (to their rounding: DuckDB and Python round a
    half differently), an artist tied with the sixth free to swap."""
    if len(ours) != len(files[:5]) or any(abs(a - b) > ROUNDING for (_, a), (_, b) in zip(ours, files)):
        return False
    sixth = files[5][1] if len(files) > 5 else None
    return all(a in {n for n, _ in files[:5]} for a, m in ours if sixth is None or abs(m - sixth) > ROUNDING)


def model_rows(con, listener: str) -> dict:
    """Per model, the latest run: what is served, the chosen candidate's training and holdout log
    loss, the best baseline's, the share by which the served predictor beats it, and the rolling-
    origin scores of the chosen candidate and the best baseline."""
    rows = con.execute("""select model_name, served, metrics, baselines, params from ml.model_runs
                          where listener_id = ? and model_name <> 'mood_clusters'
                          qualify row_number() over (partition by model_name order by trained_at desc) = 1""",
                       [listener]).fetchall()
    models = {}
    for name, served, metrics, baselines, params in rows:
        losses = {b: v.get("log_loss") for b, v in json.loads(baselines).items() if v.get("log_loss") is not None}
        best = min(losses, key=losses.get) if losses else None
        model_loss = json.loads(metrics).get("log_loss")
        served_loss = model_loss if served == "model" else losses.get(served.removesuffix("_baseline"))
        params = json.loads(params)
        rolling = {k: v for k, v in params.get("rolling_origin_baseline_log_loss", {}).items() if v is not None}
        chosen = params.get("chosen")
        models[name] = {
            "served": served, "chosen": chosen, "log_loss": model_loss, "served_log_loss": served_loss,
            "train_log_loss": json.loads(metrics).get("train_log_loss"),
            "best_baseline": best, "best_baseline_log_loss": losses.get(best),
            "gain": (None if served_loss is None or not losses.get(best)
                     else round((losses[best] - served_loss) / losses[best], 4)),
            "rolling_origin_chosen": params.get("rolling_origin_log_loss", {}).get(chosen) if chosen else None,
            "rolling_origin_best_baseline": min(rolling.values()) if rolling else None,
        }
    return models


def model_problems(models: dict) -> list[str]:
    """What the routine promises of each stored run: the served predictor no worse than the best
    baseline on the holdout, and a chosen candidate better than every baseline in rolling origin."""
    problems = []
    for name, m in models.items():
        if m["served_log_loss"] is not None and m["best_baseline_log_loss"] is not None \
                and m["served_log_loss"] > m["best_baseline_log_loss"]:
            problems.append(f"{name}: serves {m['served']} at holdout log loss {m['served_log_loss']:.4f}, worse "
                            f"than {m['best_baseline']} {m['best_baseline_log_loss']:.4f}")
        if m["rolling_origin_chosen"] is not None and m["rolling_origin_best_baseline"] is not None \
                and m["rolling_origin_chosen"] >= m["rolling_origin_best_baseline"]:
            problems.append(f"{name}: chose {m['chosen']} at rolling-origin log loss {m['rolling_origin_chosen']:.4f}, "
                            f"no better than a baseline's {m['rolling_origin_best_baseline']:.4f}")
    return problems


def run_check(args) -> int:
    folder = Path(args.folder)
    paths = entries(folder, args.only)
    if not paths:
        print(f"check-real: {folder}: no data downloads (zips, folders or JSON files) in it")
        return 1
    outcomes = []
    with tempfile.TemporaryDirectory(prefix="spotify-brain-check-real-") as scratch:
        for number, path in enumerate(paths, start=1):
            label = f"#{number}"
            print(f"{label}: {path.name} ...", flush=True)
            outcome = check_one(path, label, Path(scratch) / label.strip("#"), args.timezone,
                                args.audio_features_file, args.online)
            outcomes.append(outcome)
            print(f"{label}: {'ok' if outcome.ok else 'FAILED'}" + "".join(f"\n  {p}" for p in outcome.problems),
                  flush=True)
    print(table(outcomes))
    Path(args.json).write_text(json.dumps([as_json(o) for o in outcomes], indent=2, default=str) + "\n")
    print(f"figures in {args.json}")
    return 0 if all(o.ok for o in outcomes) else 1


def as_json(outcome: Outcome) -> dict:
    counted = outcome.counted
    return {"listener": outcome.label, "ok": outcome.ok, "problems": outcome.problems, "records": counted.records,
            "kinds": dict(counted.kinds), "years": [counted.first_year, counted.last_year],
            "commands": {k: {n: v for n, v in c.items() if n != "tail"} for k, c in outcome.commands.items()},
            "report": outcome.report, "models": outcome.models}


def table(outcomes: list[Outcome]) -> str:
    """The result as a Markdown table: sizes, timings and models, no names."""
    head = ("| listener | records | kind | years | import s | refresh s | full retrain s | peak MB | "
            "session start: served, holdout log loss vs best baseline (gain) | next mood: the same | invariants |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for o in outcomes:
        c = o.counted
        kind = "+".join(k for k in ("extended", "account", "lastfm", "listenbrainz") if c.kinds.get(k))
        seconds = [o.commands.get(k, {}).get("s", "-") for k in ("import", "refresh", "full_retrain")]
        peak = max((v.get("peak_mb", 0) for v in o.commands.values()), default="-")
        lines.append(f"| {o.label} | {c.records:,} | {kind} | {c.first_year}–{c.last_year} | " + " | ".join(map(str, seconds))
                     + f" | {peak} | {_model_cell(o.models.get('session_start'))} | "
                     f"{_model_cell(o.models.get('next_mood'))} | {'ok' if o.ok else 'FAILED'} |")
    return "\n".join(lines)


def _model_cell(model: dict | None) -> str:
    if not model:
        return "none"
    served = model["served"].removesuffix("_baseline")
    if model["served_log_loss"] is None or model["best_baseline_log_loss"] is None:
        return served
    cell = (f"{served} {model['served_log_loss']:.3f} vs {model['best_baseline']} "
            f"{model['best_baseline_log_loss']:.3f} ({model['gain']:+.1%})")
    return cell if model["served"] == "model" or model["chosen"] is None else cell + f", {model['chosen']} lost on the holdout"
