"""Open a page in headless Chromium (Debian's `chromium` + `chromium-driver`, which .ci/run installs)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

CHROMIUM, DRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"


def chromium_or_skip() -> None:
    """In CI a missing browser is a failure; on a developer machine, a skip that says how to get it."""
    if Path(CHROMIUM).exists() and shutil.which(DRIVER):
        return
    message = f"needs {CHROMIUM} and {DRIVER}: apt-get install chromium chromium-driver"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def open_page(path: Path, screenshot: Path) -> dict:
    """Load a local file; return its console messages and what the charts look like; save a screenshot."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    chromium_or_skip()
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1400,2400"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    try:
        driver.get(path.resolve().as_uri())
        charts = driver.execute_script(
            "return [...document.querySelectorAll('figure > svg.chart')].map(s => ({"
            "name: s.dataset.chart, width: s.getBoundingClientRect().width,"
            "marks: s.querySelectorAll('.bar, .point, .series').length}))")
        driver.save_screenshot(str(screenshot))
        return {"console": driver.get_log("browser"), "charts": {c["name"]: c for c in charts},
                "requests": driver.execute_script(
                    "return performance.getEntriesByType('resource').map(r => r.name)")}
    finally:
        driver.quit()
