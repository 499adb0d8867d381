"""A household: three demo listeners in three timezones with their own rhythms each get their
own models, predictions, export and preview; one listener's failure leaves the others' fresh."""

import json
from pathlib import Path

import duckdb
import pytest

import ml.session_start
from export.write import validate
from ingest.demo.rules import HOUSEHOLD, PROFILES, WEEKDAY_PEAKS, WEEKEND_PEAKS
from orchestration.cli import main
from warehouse.settings import load_settings

LISTENERS = ("demo", "demo-2", "demo-3")


@pytest.fixture
def household(env, dbt_manifest, monkeypatch):
    monkeypatch.setenv("SPOTIFY_BRAIN_DEMO_LISTENERS", "3")
    monkeypatch.setenv("SPOTIFY_BRAIN_DEMO_DAYS", "60")
    assert main(["run"]) == 0
    return load_settings()


def _export(settings, listener: str) -> dict:
    data = json.loads(settings.export_path_for(listener).read_text())
    validate(data)
    return data


def _at_own_peaks(settings, listener: str, hours: set[int], shift: int) -> bool:
    """Each predicted hour is one of the listener's own peaks on that day: with the shift undone
    (a night owl's 00:00 plays the steady listener's 21:00), a peak of that kind of day."""
    con = duckdb.connect(str(settings.warehouse), read_only=True)
    starts = dict(con.execute("select local_hour, hour_start_local from ml.session_start_predictions "
                              "where listener_id = ?", [listener]).fetchall())
    con.close()
    return all((hour - shift) % 24 in (WEEKEND_PEAKS if starts[hour].weekday() >= 5 else WEEKDAY_PEAKS)
               for hour in hours)


def test_each_listener_gets_their_own_export_peaks_and_preview(household):
    settings = household
    assert settings.export_path_for("demo") == Path("export/dashboard_data.json")  # the website's file stays
    tops = {}
    for index, listener in enumerate(LISTENERS):
        data = _export(settings, listener)
        zone, kind = HOUSEHOLD[index]
        assert data["listener"]["id"] == listener and data["listener"]["timezone"] == (zone or settings.timezone)
        tops[listener] = {h["hour"] for h in data["top_hours"]}
        assert _at_own_peaks(settings, listener, tops[listener], PROFILES[kind].shift), (listener, tops[listener])
        assert data["mood_clusters"] and data["next_prediction"]["mood_distribution"]
        page = settings.export_path_for(listener).with_name("dashboard.html")
        links = [other for other in LISTENERS if other != listener]
        for other in links:  # the preview links to each other listener's page, relative, and it exists
            target = settings.export_path_for(other).with_name("dashboard.html")
            assert f">{other}</a>" in page.read_text() and target.exists()
    assert len({frozenset(t) for t in tops.values()}) == 3  # three rhythms, three sets of peak hours


def test_a_failing_listener_leaves_the_others_fresh(household, monkeypatch):
    settings = household
    before = {listener: _export(settings, listener)["generated_at"] for listener in LISTENERS}
    real_train = ml.session_start.train_session_start

    def fails_for_demo_2(con, listener_id, *rest):
        if listener_id == "demo-2":
            raise RuntimeError("injected failure")
        return real_train(con, listener_id, *rest)

    monkeypatch.setattr(ml.session_start, "train_session_start", fails_for_demo_2)
    assert main(["run"]) == 1
    after = {listener: _export(settings, listener) for listener in LISTENERS}
    assert after["demo-2"]["generated_at"] == before["demo-2"]
    for listener in ("demo", "demo-3"):
        assert after[listener]["generated_at"] > before[listener]
        assert after[listener]["pipeline"]["failing"] is False  # demo-2's failure is not theirs
    status = json.loads((settings.data_dir / "run_status.json").read_text())
    assert "injected failure" in status["listener_retrain[demo-2]"]["last_failure"]["error"]
