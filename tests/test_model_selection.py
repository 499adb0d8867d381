"""How a candidate is chosen and when none is: the offset candidate nests its baseline, a candidate
that loses to a baseline in rolling origin is not chosen, a short history is served a baseline,
and overfitting is reported. Synthetic frames: what real listeners taught us (little to learn,
a fortnight of plays, a holdout far worse than training) written small."""

from dataclasses import replace
from pathlib import Path

import duckdb
import numpy as np
import pytest

from ml import next_mood
from ml.baselines import MajorityBaseline, PersistenceBaseline
from ml.candidates import CANDIDATES, Candidate, OffsetLogistic, log_proba_columns, rolling_origin_select
from ml.metrics import multiclass_metrics
from ml.registry import ModelRun, load_artifact
from ml.training import train_and_store
from orchestration.assets.ml import overfitting_check
from warehouse.schema import ensure_schema

CLASSES = np.array([0, 1, 2])


def test_the_offset_model_is_its_baseline_at_a_strong_penalty_and_learns_what_it_misses_at_a_weak_one():
    rng = np.random.default_rng(0)
    colour = rng.integers(0, 3, 3000)                      # decides the class; the baseline ignores it
    target = np.where(rng.random(3000) < 0.9, colour, rng.integers(0, 3, 3000))
    baseline = np.tile([0.5, 0.3, 0.2], (3000, 1))
    matrix = np.column_stack([colour, rng.normal(size=3000)]).astype(float)
    strong = OffsetLogistic(CLASSES, 1e3, 1, 1).fit(matrix, target, log_proba_columns(baseline))
    assert np.abs(strong.predict_proba(matrix, log_proba_columns(baseline)) - baseline).max() < 1e-3
    weak = OffsetLogistic(CLASSES, 1e-4, 1, 1).fit(matrix, target, log_proba_columns(baseline))
    learned = multiclass_metrics(target, weak.predict_proba(matrix, log_proba_columns(baseline)), CLASSES)
    assert learned["accuracy"] > 0.9
    assert learned["log_loss"] < multiclass_metrics(target, baseline, CLASSES)["log_loss"] / 2


def _sticky(n: int) -> dict:
    """The next mood is the last one 80 % of the time: persistence is the whole story."""
    rng = np.random.default_rng(1)
    moods = [0]
    for _ in range(n):
        moods.append(moods[-1] if rng.random() < 0.8 else int(rng.integers(0, 3)))
    return {"prev_mood_1": np.array(moods[:-1]), "target": np.array(moods[1:]),
            "started_at": np.arange(n).astype("datetime64[h]")}


def test_a_candidate_that_loses_to_a_baseline_in_rolling_origin_is_not_chosen():
    frame = _sticky(2000)
    rivals = {"persistence": lambda: PersistenceBaseline(CLASSES)}
    offsets = set()

    def losing(candidate):  # a "candidate" that knows less than the baseline
        offsets.add(candidate.offset)
        return MajorityBaseline(CLASSES)

    def loss(predictor, part):
        return multiclass_metrics(part["target"], predictor.predict_proba(part), CLASSES)["log_loss"]

    offered = {"majority": Candidate(kind="offset")}
    selection = rolling_origin_select(offered, losing, rivals, frame, loss, 2000, "persistence")
    assert selection.chosen is None and offsets == {"persistence"}
    assert "lost to the persistence baseline in rolling origin" in selection.reason
    assert selection.scores["majority"] > selection.baseline_scores["persistence"]

    winning = rolling_origin_select({"persistence again": Candidate()}, lambda c: PersistenceBaseline(CLASSES),
                                    {"majority": lambda: MajorityBaseline(CLASSES)}, frame, loss, 2000, "majority")
    assert winning.chosen == "persistence again"


def _mood_frame(days: int, per_day: int, rule: str) -> dict:
    """A next-mood training frame with every model column: moods that follow the hour and the last
    mood together (`hour`: no baseline sees both), or that follow nothing (`noise`)."""
    rng = np.random.default_rng(2)
    n = days * per_day
    started = np.datetime64("2026-01-01T00:00") + np.sort(rng.integers(0, days * 24 * 60, n)).astype("timedelta64[m]")
    hour = (started.astype("datetime64[h]").astype(int) % 24)
    noise, target = rng.integers(0, 3, n), np.zeros(n, dtype=int)
    for i in range(n):
        ruled = (hour[i] // 8 + (target[i - 1] if i else 0)) % 3 if rule == "hour" else noise[i]
        target[i] = ruled if rng.random() < 0.9 else rng.integers(0, 3)
    frame = {name: rng.random(n) for name in next_mood.COLUMNS.numeric}
    previous = np.concatenate([[0], target[:-1]])
    frame |= {"listener_id": np.array(["me"] * n, dtype=object), "play_id": np.arange(n), "started_at": started,
              "target_mood_cluster_id": target, "prev_mood_1": previous, "prev_mood_2": np.roll(previous, 1),
              "prev_mood_3": np.roll(previous, 2), "local_hour": hour, "session_hour_by_start": hour,
              "mood_by_session_hour": previous * 24 + hour}
    return frame


def _train(tmp_path: Path, frame: dict) -> ModelRun:
    con = duckdb.connect()
    ensure_schema(con)
    con.execute("create schema if not exists marts")
    con.execute("create table marts.fct_plays as select 'me' as listener_id, unnest(?) as played_at",
                [frame["started_at"].astype("datetime64[us]").tolist()])
    return train_and_store(next_mood.NextMoodTask(CLASSES), con, "me", tmp_path, frame, learn=True)


def test_a_fortnight_of_plays_is_served_a_baseline_with_a_note(tmp_path):
    run = _train(tmp_path, _mood_frame(days=14, per_day=80, rule="hour"))  # easy to learn, but a fortnight
    assert run.served.endswith("_baseline") and run.params["chosen"] is None
    assert "days of training history (a model needs 28)" in run.note
    assert run.n_train > next_mood.MIN_TRAIN_ROWS  # rows enough: the span is what is short


@pytest.mark.parametrize("rule", ["hour", "noise"])
def test_what_is_served_never_loses_to_a_baseline_and_a_model_is_trained_only_where_there_is_something_to_learn(
        tmp_path, rule):
    run = _train(tmp_path, _mood_frame(days=60, per_day=40, rule=rule))
    best = min(b["log_loss"] for b in run.baselines.values())
    served = run.metrics["log_loss"] if run.served == "model" else run.baselines[run.served.removesuffix("_baseline")]["log_loss"]
    assert served <= best
    rivals = min(v for v in run.params["rolling_origin_baseline_log_loss"].values() if v is not None)
    if rule == "hour":  # the hour decides the mood: a model finds it and says how well it fits
        assert run.served == "model" and run.params["rolling_origin_log_loss"][run.params["chosen"]] < rivals
        assert run.metrics["train_log_loss"] is not None and served < 0.8 * best
    elif run.params["chosen"] is not None:  # nothing to learn: a model, if any, is one that nests its baseline
        assert run.params["chosen"].startswith("baseline offset") and served > 0.97 * best


def test_on_a_long_history_rolling_origin_judges_the_newest_rows_and_the_choice_is_fitted_on_all(tmp_path, monkeypatch):
    """Rolling origin's 18 fits grow with the history: they see the training part's newest
    SELECTION_MAX_ROWS rows only, while the chosen candidate is fitted (and scored) on all of it."""
    judged = {}

    def spy(candidates, make, baselines, frame, loss, n_rows, fallback):
        judged.update(n_rows=n_rows, started=frame["started_at"])
        return rolling_origin_select(candidates, make, baselines, frame, loss, n_rows, fallback)

    monkeypatch.setattr("ml.training.SELECTION_MAX_ROWS", 1000)
    monkeypatch.setattr("ml.training.rolling_origin_select", spy)
    frame = _mood_frame(days=60, per_day=40, rule="hour")
    run = _train(tmp_path, dict(frame))
    assert run.n_train == 1920 and judged["n_rows"] == 1000
    assert (judged["started"] == frame["started_at"][920:1920]).all()
    assert run.served == "model" and run.metrics["train_accuracy"] is not None
    chosen = CANDIDATES[run.params["chosen"]]
    task, train = next_mood.NextMoodTask(CLASSES), {name: values[:1920] for name, values in frame.items()}
    task.labels(train)
    fitted = task.candidate(replace(chosen, offset=run.params["offset_baseline"]) if chosen.kind == "offset"
                            else chosen).fit(train)
    assert run.metrics["train_log_loss"] == pytest.approx(task.loss(fitted, train), rel=1e-9)


def _run(train_loss, holdout_loss, baseline=(0.88, 0.89)) -> ModelRun:
    return ModelRun(model_name="next_mood", listener_id="me", params={}, data_start=None, data_end=None, n_train=1,
                    n_val=1, metrics={"train_log_loss": train_loss, "log_loss": holdout_loss},
                    baselines={"transition": {"train_log_loss": baseline[0], "log_loss": baseline[1]},
                               "majority": {"train_log_loss": 1.0, "log_loss": 1.1}},
                    served="model", model_beats_baseline=True, confidence_kind="x")


def test_a_model_whose_log_loss_grows_far_more_than_the_baselines_to_the_holdout_warns_as_overfitting():
    warned = overfitting_check(_run(0.30, 1.05))  # what a real listener's boosted trees did
    assert not warned.passed and warned.severity.value == "WARN"
    assert warned.metadata["gap"].value == pytest.approx((0.75 - 0.01) / 1.05, abs=1e-3)
    assert overfitting_check(_run(0.46, 0.50, baseline=(0.63, 0.60))).passed  # a little optimistic in training
    # a listener who was quiet in the training part: every predictor does worse on the holdout
    assert overfitting_check(_run(0.02, 0.33, baseline=(0.03, 0.56))).passed
    assert overfitting_check(_run(None, None)).passed and overfitting_check(None).passed


def test_fits_side_by_side_choose_and_score_as_one_at_a_time(tmp_path, monkeypatch):
    """Rolling origin's fits, and the holdout's beside the served one's, run on a thread per core
    (ml/parallel.py): no fit may see another's state, so one thread and two store the same run."""
    frame = _mood_frame(days=60, per_day=40, rule="hour")
    runs = {}
    for threads in (1, 2):
        monkeypatch.setattr("ml.parallel.cores", lambda threads=threads: threads)
        runs[threads] = _train(tmp_path / str(threads), dict(frame))
    one, two = runs[1], runs[2]
    assert one.served == two.served == "model" and one.params["chosen"] == two.params["chosen"]
    for name, score in one.params["rolling_origin_log_loss"].items():
        assert two.params["rolling_origin_log_loss"][name] == pytest.approx(score, rel=1e-9)
    assert two.metrics["log_loss"] == pytest.approx(one.metrics["log_loss"], rel=1e-9)
    assert two.metrics["train_log_loss"] == pytest.approx(one.metrics["train_log_loss"], rel=1e-9)
    # what is served is the chosen candidate fitted on every row, not the holdout's fit
    task, rows = next_mood.NextMoodTask(CLASSES), dict(frame)
    task.labels(rows)
    chosen = CANDIDATES[two.params["chosen"]]
    on_all = task.candidate(replace(chosen, offset=two.params["offset_baseline"]) if chosen.kind == "offset"
                            else chosen).fit(rows)
    served = load_artifact({"run_id": two.run_id, "artifact_path": two.artifact_path})
    assert np.allclose(served.predict_proba(rows), on_all.predict_proba(rows))


def test_a_failing_fit_stops_the_fits_not_yet_started():
    """An error (or Ctrl-C) in one fit of rolling origin's eighteen is raised without waiting
    for the rest of them to run."""
    import time

    from ml.parallel import run_all

    ran = []

    def fit(number: int):
        if number == 0:
            raise ValueError("this fold could not be fitted")
        time.sleep(0.05)
        ran.append(number)
        return number

    with pytest.raises(ValueError, match="could not be fitted"):
        run_all([lambda number=number: fit(number) for number in range(20)], workers=2)
    assert len(ran) < 5
    assert run_all([lambda number=number: fit(number) for number in range(1, 6)], workers=2) == [1, 2, 3, 4, 5]
