"""The `metrics` section: each training run, the model next to its baselines (and a demo
listener's oracle), newest first, the session and mood runs of one data snapshot paired."""

from __future__ import annotations

import json
from zoneinfo import ZoneInfo

import duckdb

from export.rows import fetch_rows, local_iso, rounded

HISTORY_LENGTH = 10


def model_runs(con: duckdb.DuckDBPyConnection, listener_id: str, tz: ZoneInfo) -> dict:
    """Training runs, newest first: each pairs the session and mood runs of one data snapshot
    (a snapshot without mood clusters has no mood run; its mood metrics are null)."""
    rows = fetch_rows(
        con,
        """
        select s.data_end, s.trained_at as session_at, m.trained_at as mood_at,
               m.run_id as mood_run, m.metrics as mood_metrics, m.baselines as mood_baselines,
               m.served as mood_served, m.model_beats_baseline as mood_beats, m.oracle as mood_oracle,
               s.run_id as session_run, s.metrics as session_metrics, s.baselines as session_baselines,
               s.served as session_served, s.model_beats_baseline as session_beats, s.oracle as session_oracle,
               (select count(distinct track_id) from marts.fct_plays p
                 where p.listener_id = s.listener_id and p.played_at <= s.data_end) as num_tracks,
               (select count(*) from marts.fct_sessions x
                 where x.listener_id = s.listener_id and x.ended_at <= s.data_end) as num_sessions
        from ml.model_runs s
        left join ml.model_runs m on m.listener_id = s.listener_id and m.data_end = s.data_end
                                 and m.model_name = 'next_mood'
        where s.model_name = 'session_start' and s.listener_id = ?
        qualify row_number() over (partition by s.data_end order by s.trained_at desc, m.trained_at desc) = 1
        order by s.data_end desc
        limit ?
        """,
        [listener_id, HISTORY_LENGTH + 1],
    )
    runs = [_run(r, tz) for r in rows]
    return {"latest": runs[0] if runs else None, "history": runs[1:]}


def _run(r: dict, tz: ZoneInfo) -> dict:
    mood, mood_base = json.loads(r["mood_metrics"] or "{}"), json.loads(r["mood_baselines"] or "{}")
    sess, sess_base = json.loads(r["session_metrics"]), json.loads(r["session_baselines"])
    return {
        "run_at": local_iso(max(t for t in (r["mood_at"], r["session_at"]) if t is not None), tz),
        "num_tracks": r["num_tracks"],
        "num_sessions": r["num_sessions"],
        "mood_model": {
            "run_id": r["mood_run"],
            "train_accuracy": rounded(mood.get("train_accuracy")),
            "train_log_loss": rounded(mood.get("train_log_loss")),
            "val_accuracy": rounded(mood.get("accuracy")),
            "val_top3_accuracy": rounded(mood.get("top3_accuracy")),
            "val_f1_macro": rounded(mood.get("f1_macro")),
            "val_log_loss": rounded(mood.get("log_loss")),
            "val_calibration_error": rounded(mood.get("calibration_error")),
            "baselines": {name: {"val_accuracy": rounded(m.get("accuracy")), "val_log_loss": rounded(m.get("log_loss")),
                                 "val_top3_accuracy": rounded(m.get("top3_accuracy")),
                                 "val_f1_macro": rounded(m.get("f1_macro"))}
                          for name, m in mood_base.items()},
            "model_beats_baseline": bool(r["mood_beats"]),
            "served": r["mood_served"] or "none",
            "reliability": _reliability(mood),
            "oracle": _oracle(r["mood_oracle"]),
        },
        "session_model": {
            "run_id": r["session_run"],
            "train_roc_auc": rounded(sess.get("train_roc_auc")),
            "train_log_loss": rounded(sess.get("train_log_loss")),
            "val_roc_auc": rounded(sess.get("roc_auc")),
            "val_pr_auc": rounded(sess.get("pr_auc")),
            "val_f1": rounded(sess.get("f1")),
            "val_brier": rounded(sess.get("brier")),
            "val_log_loss": rounded(sess.get("log_loss")),
            "calibration_error": rounded(sess.get("calibration_error")),
            "baselines": {name: {"val_roc_auc": rounded(m.get("roc_auc")), "val_pr_auc": rounded(m.get("pr_auc")),
                                 "val_brier": rounded(m.get("brier")), "val_log_loss": rounded(m.get("log_loss"))}
                          for name, m in sess_base.items()},
            "model_beats_baseline": bool(r["session_beats"]),
            "served": r["session_served"],
            "reliability": _reliability(sess),
            "oracle": _oracle(r["session_oracle"]),
        },
    }


def _reliability(metrics: dict) -> list[dict]:
    """The served predictor's holdout probabilities against what happened, per decile."""
    return [{"predicted": rounded(row["predicted"]), "observed": rounded(row["observed"]), "count": row["count"]}
            for row in metrics.get("reliability") or []]


def _oracle(stored: str | None) -> dict | None:
    """A demo listener's oracle figures (the generator's own probabilities); null for real people."""
    if not stored:
        return None
    oracle = json.loads(stored)
    return {"val_log_loss": rounded(oracle.get("log_loss")), "val_brier": rounded(oracle.get("brier")),
            "gap_closed": rounded(oracle.get("gap_closed"))}
