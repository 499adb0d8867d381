"""The preview page: every chart, drawn from the export alone, safe with hostile names."""

from __future__ import annotations

import copy
import re

from browser import open_page
from export.preview import MAIN_CHARTS, chart_markdown, charts, render_html, write_preview
from test_export import _valid

CHARTS = {"session_hours", "mood_clusters", "mood_trajectory", "genre_profile", "next_mood",
          "next_mood_vs_baselines", "session_start_vs_baselines", "hours_by_month", "part_of_day"}


def test_every_chart_is_drawn_from_the_export():
    drawn = charts(_valid())
    assert set(drawn) == CHARTS
    assert all(chart.startswith("<svg") and chart.endswith("</svg>") for chart in drawn.values())
    assert drawn["session_hours"].count('class="bar"') == 24
    assert drawn["next_mood"].count('class="bar"') == 2


def test_names_are_escaped_and_nothing_is_fetched():
    data = copy.deepcopy(_valid())
    data["recently_played"][0]["track_name"] = "<script>alert('x')</script>"
    data["genre_profiles"]["overall"][0]["genre"] = "<img src=x onerror=alert(1)>"
    page = render_html(data)
    assert "<script" not in page and "<img" not in page and "&lt;script&gt;" in page
    # no external resource: nothing is loaded, and links (to the household's pages) stay on disk
    assert not re.search(r"<[^>]*\bsrc=", page) and "@import" not in page
    assert all("://" not in href for href in re.findall(r'href="([^"]*)"', page))


def test_a_listener_with_almost_no_data_still_gets_a_page():
    data = copy.deepcopy(_valid())
    data.update(mood_clusters=[], mood_trajectory=[], recently_played=[],
                genre_profiles={"overall": [], "by_part_of_day": {}, "by_mood": {}},
                metrics={"latest": None, "history": []},
                session_probs={str(h): None for h in range(24)}, session_actual={str(h): 0 for h in range(24)})
    data["next_prediction"].update(mood_distribution=[], mood_label=None)
    page = render_html(data)
    assert page.count("no data yet") >= 3 and "no prediction yet" in page
    assert chart_markdown(data).count("data:image/svg+xml;base64,") == len(MAIN_CHARTS)


def test_the_page_opens_in_chromium_without_errors(tmp_path):
    page = write_preview(_valid(), tmp_path / "dashboard.html")
    seen = open_page(page, tmp_path / "dashboard.png")
    assert [m for m in seen["console"] if m["level"] == "SEVERE"] == []
    assert set(seen["charts"]) == CHARTS and all(c["width"] > 300 for c in seen["charts"].values())
    assert seen["requests"] == []  # nothing fetched: opens from disk with no network
    assert (tmp_path / "dashboard.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
