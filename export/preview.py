"""`dashboard.html`: the export as a page that opens from disk, with no script and no network.

Every chart is inline SVG built from the export itself (`export/svg.py`), so the page shows
exactly what the website will get. Written next to the JSON, atomically, after it.
"""

from __future__ import annotations

import base64
import os
from datetime import datetime
from html import escape
from pathlib import Path

from export import svg
from export.review import share as _share, year_in_review
from export.write import write_atomically

STYLE = """
body{font-family:sans-serif;margin:24px auto;max-width:1360px;color:#222;background:#fafafa}
h1{font-size:22px;margin-bottom:4px} p.meta{color:#666;margin-top:0}
main{display:grid;grid-template-columns:repeat(auto-fill,minmax(660px,1fr));gap:16px}
figure{margin:0;background:#fff;border:1px solid #ddd;border-radius:6px;padding:8px}
figcaption{font-weight:bold;margin-bottom:6px} table{border-collapse:collapse;font-size:12px}
td,th{border-bottom:1px solid #eee;padding:3px 8px;text-align:left}
p.failing{background:#fde8e8;border:1px solid #e99;padding:8px;border-radius:6px}
section#year-in-review{background:#fff;border:1px solid #ddd;border-radius:6px;padding:8px 16px;margin-bottom:16px}
.tiles{display:flex;flex-wrap:wrap;gap:12px}.tile{background:#f1faf4;border-radius:6px;padding:8px 14px}
.tile b{display:block;font-size:22px}.tile span{color:#555;font-size:12px}
.tops{display:grid;grid-template-columns:repeat(auto-fill,minmax(240px,1fr));gap:8px}
.tops h3{font-size:14px;margin-bottom:2px}.tops ol{margin-top:0;padding-left:20px}
nav{margin-bottom:8px}
"""


def _hour_values(by_hour: dict) -> list[float | None]:
    return [by_hour.get(str(hour)) for hour in range(24)]


def _run_metric(run: dict | None, model: str, metric: str) -> list[tuple[str, float]]:
    """The learned model's holdout metric next to each baseline's (undefined ones left out)."""
    if not run or not run.get(model):
        return []
    part = run[model]
    bars = [("model", part.get(f"val_{metric}"))]
    bars += [(f"{name} baseline", values.get(f"val_{metric}"))
             for name, values in sorted(part.get("baselines", {}).items())]
    if part.get("oracle"):  # demo listeners: the generator's own probabilities, the best possible
        bars.append(("oracle (best possible)", part["oracle"].get(f"val_{metric}")))
    return [(label, value) for label, value in bars if value is not None]


def _reliability(latest: dict | None) -> str:
    """Predicted against observed per decile of each served predictor's holdout probabilities; each
    model's training against holdout log loss (overfitting shows as a wide gap); and on a demo
    listener the share of the gap to the oracle the model closes."""
    models = {"next mood": (latest or {}).get("mood_model") or {},
              "session start": (latest or {}).get("session_model") or {}}
    if not any(m.get("reliability") for m in models.values()):
        return "<p>No holdout yet.</p>"
    head = "".join(f"<th>{escape(name)}: predicted</th><th>observed</th>" for name in models)
    deciles = max(len(m.get("reliability") or []) for m in models.values())
    rows = ""
    for i in range(deciles):
        cells = ""
        for model in models.values():
            table = model.get("reliability") or []
            row = table[i] if i < len(table) else None
            cells += (f"<td>{row['predicted']:.3f}</td><td>{row['observed']:.3f}</td>" if row
                      else "<td></td><td></td>")
        rows += f"<tr><td>{i + 1}</td>{cells}</tr>"
    gaps = [f"{name}: the model closes {m['oracle']['gap_closed']:.0%} of the gap from the best baseline to the oracle"
            for name, m in models.items() if (m.get("oracle") or {}).get("gap_closed") is not None]
    fits = [f"{name}: log loss {m['train_log_loss']:.3f} on the training part, {m['val_log_loss']:.3f} on the holdout"
            for name, m in models.items() if m.get("train_log_loss") is not None and m.get("val_log_loss") is not None]
    note = f"<p class=\"meta\">{escape('; '.join(fits + gaps))}</p>" if fits or gaps else ""
    return f"<table><tr><th>decile</th>{head}</tr>{rows}</table>{note}"


def _trajectory(points: list[dict]) -> tuple[list[float], list[tuple[float, str]]]:
    """Bin times as hours since the first bin, and a tick every three hours."""
    if not points:
        return [], []
    times = [datetime.fromisoformat(p["time"]) for p in points]
    hours = [(t - times[0]).total_seconds() / 3600 for t in times]
    ticks = [(h, t.strftime("%H:%M")) for h, t in zip(hours, times)]
    kept, last = [], None
    for h, label in ticks:
        if last is None or h - last >= 3:
            kept.append((h, label))
            last = h
    return hours, kept


def _review_period(data: dict) -> dict | None:
    """The period the year in review is about: the last 12 months up to the latest play."""
    stats = data.get("listening_stats") or {}
    return next((p for p in stats.get("periods", []) if p["kind"] == "last_12_months"), None)


def _stats_charts(data: dict) -> dict[str, str]:
    stats, period = data.get("listening_stats") or {}, _review_period(data)
    months = [(m["month"], (m["minutes"] or 0) / 60) for m in stats.get("months", [])[-12:]]
    parts = [(part, share) for part, share in (period or {}).get("part_of_day_shares", {}).items()
             if share is not None]
    why = "statistics appear after the first daily run"
    return {
        "hours_by_month": svg.horizontal_bars("hours_by_month", "Hours listened per month (the last 12)", months,
                                              why_empty=why),
        "part_of_day": svg.horizontal_bars("part_of_day", "Share of listening time by part of the day "
                                           "(last 12 months)", parts, maximum=1.0, why_empty=why),
    }


def charts(data: dict) -> dict[str, str]:
    """The preview's charts by name, each an SVG document."""
    prediction, latest = data["next_prediction"], data["metrics"]["latest"]
    trajectory = data["mood_trajectory"]
    times, ticks = _trajectory(trajectory)
    return {
        **_stats_charts(data),
        "session_hours": svg.hour_chart(
            "session_hours", "Session start by local hour: predicted for the coming day vs observed",
            _hour_values(data["session_probs"]), _hour_values(data["session_actual"]),
            "predicted probability", "observed starts (busiest hour = 1)"),
        "mood_clusters": svg.scatter(
            "mood_clusters", "Mood clusters: centroids by valence and energy, area = tracks",
            [(c["label"], c["centroid"]["valence"], c["centroid"]["energy"], c["size"]) for c in data["mood_clusters"]],
            "valence", "energy"),
        "mood_trajectory": svg.lines(
            "mood_trajectory", "Mood over the last 24 hours of listening (15-minute bins)",
            times, ticks, {"valence": [p["valence"] for p in trajectory], "energy": [p["energy"] for p in trajectory]}),
        "genre_profile": svg.horizontal_bars(
            "genre_profile", "Top genres by share of listening time",
            [(g["genre"], g["share"]) for g in data["genre_profiles"].get("overall", [])]),
        "next_mood": svg.horizontal_bars(
            "next_mood", "Next track's mood: the served distribution",
            [(d["mood_label"], d["probability"]) for d in prediction.get("mood_distribution") or []],
            highlight=prediction.get("mood_label"), maximum=1.0),
        "next_mood_vs_baselines": svg.horizontal_bars(
            "next_mood_vs_baselines", "Next-mood model against its baselines: holdout log loss (lower is better)",
            _run_metric(latest, "mood_model", "log_loss"), highlight="model", why_empty="no training run yet"),
        "session_start_vs_baselines": svg.horizontal_bars(
            "session_start_vs_baselines", "Session-start model against its baselines: holdout Brier score "
            "(lower is better)", _run_metric(latest, "session_model", "brier"), highlight="model",
            why_empty="no training run yet"),
    }


def _recent_table(data: dict) -> str:
    rows = "".join(
        f"<tr><td>{escape(p['played_at'][:16].replace('T', ' '))}</td><td>{escape(p['track_name'] or '')}</td>"
        f"<td>{escape(p['artist_name'] or '')}</td></tr>" for p in data["recently_played"])
    if not rows:
        return "<p>Not published (SPOTIFY_BRAIN_RECENTLY_PLAYED_LIMIT=0) or nothing played yet.</p>"
    return f"<table><tr><th>played at</th><th>track</th><th>artist</th></tr>{rows}</table>"


def _recommendations(data: dict) -> str:
    """Both lists for the predicted mood: new to the listener, and their own not played lately."""
    lists = data["next_prediction"].get("recommendations")
    if not lists:
        return "<p>No next-mood prediction yet.</p>"

    def items(tracks: list[dict], why_empty: str) -> str:
        rows = "".join(f"<li>{escape(t['track_name'] or '?')} <small>{escape(t['artist_name'] or '')}</small></li>"
                       for t in tracks)
        return f"<ol>{rows}</ol>" if rows else f"<p>{escape(why_empty)}</p>"

    return (f'<div class="tops"><div id="discover"><h3>New to you</h3>'
            f'{items(lists["discover"], lists["discover_note"] or "none")}</div>'
            f'<div id="rediscover"><h3>Yours, not played lately</h3>'
            f'{items(lists["rediscover"], "no track of yours in this mood yet")}</div></div>')


def _coverage_line(data: dict) -> str:
    """What the mood and genre figures describe, said next to them."""
    coverage = data.get("coverage")
    if not coverage:
        return ""
    features, genres = coverage["audio_features"], coverage["genres"]
    line = (f'<p class="meta" id="coverage">Moods describe {_share(features["listening_time_share"])} of listening '
            f'time ({_share(features["plays_share"])} of {coverage["plays"]} plays have audio features); genres '
            f'describe {_share(genres["listening_time_share"])} ({_share(genres["plays_share"])} of plays).')
    ids, art = coverage.get("track_id"), coverage.get("album_art")
    if ids and art:
        line += (f' {_share(ids["plays_share"])} of plays have a Spotify track id, {_share(art["plays_share"])} '
                 f'album art.')
    time = coverage.get("listening_time") or {}
    if time.get("track_length_minutes") or time.get("default_length_minutes"):
        default = (time.get("default_length_ms") or 0) / 60000
        line += (f' Of {time["minutes"]:,.0f} minutes, {time["track_length_minutes"]:,.0f} are scrobbles counted at '
                 f'their track\'s length and {time["default_length_minutes"]:,.0f} scrobbles of tracks of unknown '
                 f'length counted at {default:g} minutes each (a scrobble gives no play time).')
    down = [f"{escape(name)} ({escape(p['stopped'] or 'no answer')})"
            for name, p in (coverage.get("providers") or {}).items() if not p["reachable"]]
    if down:
        line += f' Not reachable on the last run: {"; ".join(down)}.'
    return line + "</p>"


def _pipeline_banner(data: dict) -> str:
    pipeline = data.get("pipeline") or {}
    failure = pipeline.get("last_failure")
    if not pipeline.get("failing") or not failure:
        return ""
    where = f"{failure['job']}" + (f", step {failure['step']}" if failure.get("step") else "")
    return (f'<p class="failing" id="pipeline-failing">The last run failed ({escape(where)}, {escape(failure["at"])}):'
            f' {escape(failure["error"])}. This page shows the last good data.</p>')


def _listener_links(data: dict, page: Path | None, household: list[tuple[str, Path]]) -> str:
    """Links to the other listeners' pages, relative to this one, so the pages work from disk."""
    if page is None or len(household) < 2:
        return ""
    links = []
    for listener_id, export_path in household:
        target = os.path.relpath(export_path.with_name("dashboard.html").resolve(), page.resolve().parent)
        current = listener_id == data["listener"]["id"]
        links.append(f"<b>{escape(listener_id)}</b>" if current else f'<a href="{escape(target)}">{escape(listener_id)}</a>')
    return f'<nav id="listeners">Listeners: {" · ".join(links)}</nav>'


def render_html(data: dict, page: Path | None = None, household: list[tuple[str, Path]] = ()) -> str:
    prediction, listener = data["next_prediction"], data["listener"]
    next_mood = (f"{escape(prediction['mood_label'])} ({prediction['confidence']:.0%}, "
                 f"{escape(prediction['prediction_source'])})" if prediction.get("mood_label") else "no prediction yet")
    top = ", ".join(f"{h['hour']:02d}h ({h['probability']:.0%})" for h in data["top_hours"]) or "none yet"
    figures = "".join(f'<figure id="chart-{name}"><figcaption>{escape(name.replace("_", " "))}</figcaption>{chart}'
                      f"</figure>" for name, chart in charts(data).items())
    return (
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>My Spotify Brain: {escape(listener['display_name'] or listener['id'])}</title>"
        f"<style>{STYLE}</style></head><body>"
        f"{_listener_links(data, page, list(household))}"
        f"<h1>My Spotify Brain: {escape(listener['display_name'] or listener['id'])}</h1>"
        f"{_pipeline_banner(data)}"
        f"<p class=\"meta\">generated {escape(data['generated_at'])} · hours in {escape(listener['timezone'])} · "
        f"next mood: {next_mood} · likeliest session starts: {top} · "
        f"drift: {'detected' if data['drift']['drift_detected'] else 'none'}</p>"
        f"{_coverage_line(data)}"
        f"{year_in_review(data)}"
        f"<main>{figures}<figure id=\"reliability\"><figcaption>reliability: the served predictors' holdout "
        f"probabilities against what happened, per decile</figcaption>{_reliability(data['metrics']['latest'])}"
        f"</figure><figure id=\"recently-played\"><figcaption>recently played</figcaption>"
        f"{_recent_table(data)}</figure><figure id=\"recommendations\"><figcaption>for the next mood: "
        f"{next_mood}</figcaption>{_recommendations(data)}</figure></main></body></html>\n"
    )


def write_preview(data: dict, path: Path, household: list[tuple[str, Path]] = ()) -> Path:
    """Write the page by rename, like the JSON: a failed run leaves the previous page.
    `household`: every listener's (id, export path), for the links between their pages."""
    return write_atomically(render_html(data, path, household), path)


MAIN_CHARTS = ("session_hours", "next_mood", "next_mood_vs_baselines", "session_start_vs_baselines")


def chart_markdown(data: dict, names: tuple[str, ...] = MAIN_CHARTS) -> str:
    """Main charts as Markdown images (SVG data URIs), for the asset's metadata in the Dagster UI."""
    drawn = charts(data)
    return "\n\n".join(f"![{name}](data:image/svg+xml;base64,{base64.b64encode(drawn[name].encode()).decode()})"
                       for name in names)
