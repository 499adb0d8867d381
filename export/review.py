"""The preview page's statistics sections: a year in review for the last 12 months and for each
calendar year (what Spotify's Wrapped and ListenBrainz's Year in Music show that this data can
support), the genres that grew and shrank, and the household side by side."""

from __future__ import annotations

from html import escape

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def share(value: float | None) -> str:
    return "unknown" if value is None else f"{value:.0%}"


def top_list(items: list[dict], count: int = 5) -> str:
    rows = "".join(f"<li>{escape(i['name'] or '?')}"
                   + (f" <small>{escape(i['artist'])}</small>" if i.get("artist") else "")
                   + f" <small>{i['minutes'] / 60:.1f} h</small></li>" for i in items[:count])
    return f"<ol>{rows}</ol>" if rows else "<p>none</p>"


def _track_list(tracks: list[dict], details: list[str]) -> str:
    rows = "".join(f"<li>{escape(t['track_name'] or '?')} <small>{escape(t['artist_name'] or '')} · "
                   f"{escape(detail)}</small></li>" for t, detail in zip(tracks[:5], details))
    return f"<ol>{rows}</ol>" if rows else "<p>none</p>"


def _eras_line(eras: dict | None) -> str:
    if not eras or eras.get("average_release_year") is None:
        return "release years: none known yet"
    decades = ", ".join(f"{d['decade']}s {share(d['share'])}" for d in sorted(eras["decades"], key=lambda d: -d["share"])[:3])
    return (f"released on average in {eras['average_release_year']:.0f}, most heard release year "
            f"{eras['top_release_year']} ({decades}; {share(eras['dated_share'])} of the time has a release year)")


def _review(period: dict, heading: str, element_id: str, extras: str = "") -> str:
    """One period in numbers and top lists."""
    skips, top, streak = period["skips"], period.get("top", {}), period.get("longest_streak") or {}
    skip_line = ("no play of the period says whether it was skipped" if skips["rate"] is None else
                 f"{skips['rate']:.0%} of plays skipped (counted over the {share(skips['share_of_plays_with_skip_info'])}"
                 " of plays whose source reports skips)")
    figures = [(f"{(period['minutes'] or 0) / 60:,.0f} h", "listened"), (f"{period['plays']:,}", "plays"),
               (f"{period['distinct_tracks']:,}", "tracks"), (f"{period['distinct_artists']:,}", "artists"),
               (f"{period['new_artists'] or 0:,}", "artists discovered"),
               (f"{streak.get('days') or 0}", "days: longest streak")]
    tiles = "".join(f'<div class="tile"><b>{escape(value)}</b><span>{escape(label)}</span></div>'
                    for value, label in figures)
    busiest, longest = period["busiest_day"], period["longest_session"]
    days = {day: s for day, s in period["weekday_shares"].items() if s is not None}
    weekday = max(days, key=days.get).title() if days else "?"
    lists = [("Top artists", "artists"), ("Top tracks", "tracks"), ("Top albums", "albums"), ("Top genres", "genres"),
             ("Top discoveries", "discoveries")]
    return (
        f'<section id="{element_id}"><h2>{escape(heading)}: {escape(period["start"] or "")} to '
        f'{escape(period["end"] or "")}</h2><div class="tiles">{tiles}</div>'
        f'<p class="meta">Busiest day {escape(busiest["date"] or "?")} ({(busiest["minutes"] or 0) / 60:.1f} h) · '
        f'most listened weekday {escape(weekday)} · longest session {(longest["minutes"] or 0):.0f} min · '
        f'longest streak from {escape(streak.get("start") or "?")} · {escape(skip_line)} · '
        f'{escape(_eras_line(period.get("eras")))}</p>'
        '<div class="tops">' + "".join(f"<div><h3>{title}</h3>{top_list(top.get(key, []))}</div>" for title, key in lists)
        + f"</div>{extras}</section>")


def year_in_review(data: dict) -> str:
    """The last 12 months, then each calendar year (newest first, folded)."""
    stats = data.get("listening_stats")
    periods = (stats or {}).get("periods", [])
    last = next((p for p in periods if p["kind"] == "last_12_months"), None)
    if not stats or not last:
        return ('<section id="year-in-review"><h2>Your year in review</h2><p>Statistics appear after the '
                'first daily run (spotify-brain run).</p></section>')
    streaks = stats.get("streaks") or {}
    run = streaks.get("artist_run") or {}
    on_repeat = _track_list(stats["on_repeat"], [f"{t['plays_last_14_days']} plays" for t in stats["on_repeat"]])
    forgotten = _track_list(stats["forgotten_favourites"],
                            [f"last played {t['last_played']}" for t in stats["forgotten_favourites"]])
    extras = (f'<p class="meta">Current streak {streaks.get("current_days") or 0} days · {run.get("plays") or 0} plays '
              f'of {escape(run.get("artist") or "?")} in a row</p>'
              f'<div class="tops"><div><h3>On repeat (last 14 days)</h3>{on_repeat}</div>'
              f'<div><h3>Forgotten favourites</h3>{forgotten}</div></div>')
    years = "".join(f'<details><summary>{escape(p["period"])}</summary>'
                    f'{_review(p, "Your " + p["period"], "year-" + p["period"])}</details>'
                    for p in periods if p["kind"] == "year")
    return (_review(last, "Your year in review", "year-in-review", extras)
            + (f'<section id="years"><h2>Year by year</h2>{years}</section>' if years else "")
            + _genre_evolution(stats) + _household(stats))


def _genre_evolution(stats: dict) -> str:
    last = next((e for e in stats.get("genre_evolution") or [] if e["period"] == "last_12_months"), None)
    if not last:
        return ""

    def moves(items: list[dict]) -> str:
        rows = "".join(f"<li>{escape(m['genre'])} <small>{share(m['share_before'])} → {share(m['share'])}</small></li>"
                       for m in items)
        return f"<ol>{rows}</ol>" if rows else "<p>none</p>"

    return ('<section id="genre-evolution"><h2>Genres: the last 12 months against the 12 before</h2>'
            f'<div class="tops"><div><h3>Grew</h3>{moves(last["grew"])}</div>'
            f'<div><h3>Shrank</h3>{moves(last["shrank"])}</div></div></section>')


def _household(stats: dict) -> str:
    household = stats.get("household") or {}
    if not household.get("others"):
        return ""
    rows = "".join(
        f'<div><h3>With {escape(o["listener_id"])}: affinity {share(o["affinity"])}</h3>'
        f'<p class="meta">{o["shared_artists"]} artists and {o["shared_tracks"]} tracks in common</p>'
        f'<h4>You play, they never do</h4>{top_list(o["you_play_they_never_do"])}'
        f'<h4>They play, you never do</h4>{top_list(o["they_play_you_never_do"])}</div>'
        for o in household["others"])
    return (f'<section id="household-side-by-side"><h2>The household side by side</h2><div class="tops">{rows}'
            f'<div><h3>The household\'s top artists</h3>{top_list(household["top_artists"])}</div></div></section>')
