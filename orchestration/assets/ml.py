"""Mood clusters, the two models and their predictions, over the dbt outputs."""


import dagster as dg

from ml.moods import assign_track_moods, train_mood_run
from ml.next_mood import predict_next_mood, train_next_mood
from ml.registry import ModelRun
from ml.session_start import predict_session_starts, train_session_start
from orchestration.assets.dbt import dbt_model_key
from orchestration.resources import WAREHOUSE_POOL, settings_and_writer


def _comparison_table(run: ModelRun, metric_names: tuple[str, ...]) -> str:
    """Markdown: the model next to every baseline on the holdout, the served one marked."""
    header = "| predictor | " + " | ".join(metric_names) + " | served |"
    lines = [header, "|" + "---|" * (len(metric_names) + 2)]
    rows = {"model": run.metrics, **run.baselines}
    served = run.served.removesuffix("_baseline")
    for name, metrics in rows.items():
        cells = ["—" if metrics.get(m) is None else f"{metrics[m]:.4f}" for m in metric_names]
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {'✅' if name == served else ''} |")
    return "\n".join(lines)


def _serves_model_check(run: ModelRun | None) -> dg.AssetCheckResult:
    """Warns (yellow in the UI) when a retrain serves a baseline instead of the learned model."""
    served = run.served if run else "none"
    return dg.AssetCheckResult(
        check_name="serves_learned_model", passed=served == "model", severity=dg.AssetCheckSeverity.WARN,
        metadata={"served": served, "why": (run.note or "") if run else "no mood clusters yet"},
    )


SERVES_MODEL_CHECK = [dg.AssetCheckSpec("serves_learned_model", asset=key,
                                        description="the learned model beat every baseline on the holdout")
                      for key in (["ml", "next_mood_model"], ["ml", "session_start_model"])]


def _run_metadata(run: ModelRun, metric_names: tuple[str, ...]) -> dict:
    return {
        "run_id": run.run_id,
        "served": run.served,
        "model_beats_baseline": str(run.model_beats_baseline),
        "holdout_comparison": dg.MetadataValue.md(_comparison_table(run, metric_names)),
        "n_train": run.n_train,
        "n_val": run.n_val,
        "note": run.note or "",
        "artifact": dg.MetadataValue.path(run.artifact_path or ""),
    }


@dg.asset(key=["ml", "mood_clusters"], group_name="ml", deps=[dbt_model_key("dim_tracks"), dbt_model_key("fct_plays")],
          pool=WAREHOUSE_POOL, kinds={"scikit-learn"})
def mood_clusters(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    """KMeans moods of the played tracks (k by silhouette), ids kept stable across retrains."""
    with settings_and_writer() as (settings, con):
        run = train_mood_run(con, settings.data_dir, settings.mood_k)
    if run is None:
        context.log.warning("no played tracks with audio features: no mood clusters this run")
        return dg.MaterializeResult(metadata={"clusters": 0, "note": "no tracks with audio features"})
    return dg.MaterializeResult(metadata={"run_id": run.run_id, **{k: v for k, v in run.metrics.items() if v is not None},
                                          "tracks": run.n_train})


@dg.asset(key=["ml", "track_moods"], group_name="ml", deps=[mood_clusters, dbt_model_key("dim_tracks")],
          pool=WAREHOUSE_POOL, kinds={"python"})
def track_moods() -> dg.MaterializeResult:
    """Every track with audio features gets the mood of the latest clustering (no refit)."""
    with settings_and_writer() as (_, con):
        assigned = assign_track_moods(con)
    return dg.MaterializeResult(metadata={"dagster/row_count": assigned})


@dg.asset(key=["ml", "next_mood_model"], group_name="ml", deps=[dbt_model_key("ml_next_track_training")],
          pool=WAREHOUSE_POOL, kinds={"scikit-learn"}, check_specs=SERVES_MODEL_CHECK[:1])
def next_mood_model() -> dg.MaterializeResult:
    """Train the next-track mood model; serve it only if it beats every baseline."""
    with settings_and_writer() as (settings, con):
        run = train_next_mood(con, settings.listener_id, settings.data_dir)
    if run is None:
        return dg.MaterializeResult(metadata={"served": "none", "note": "no mood clusters yet"},
                                    check_results=[_serves_model_check(None)])
    return dg.MaterializeResult(metadata=_run_metadata(run, ("accuracy", "top3_accuracy", "f1_macro", "log_loss")),
                                check_results=[_serves_model_check(run)])


@dg.asset(key=["ml", "session_start_model"], group_name="ml", deps=[dbt_model_key("ml_session_start_training")],
          pool=WAREHOUSE_POOL, kinds={"scikit-learn"}, check_specs=SERVES_MODEL_CHECK[1:])
def session_start_model() -> dg.MaterializeResult:
    """Train the session-start model; serve it only if it beats the hourly rates."""
    with settings_and_writer() as (settings, con):
        run = train_session_start(con, settings.listener_id, settings.data_dir)
    return dg.MaterializeResult(metadata=_run_metadata(run, ("roc_auc", "pr_auc", "brier", "log_loss")),
                                check_results=[_serves_model_check(run)])


@dg.asset(key=["ml", "next_mood_predictions"], group_name="ml",
          deps=[next_mood_model, dbt_model_key("ml_next_track_scoring")], pool=WAREHOUSE_POOL, kinds={"python"})
def next_mood_predictions() -> dg.MaterializeResult:
    """The next mood after the latest play, from the stored served predictor."""
    with settings_and_writer() as (settings, con):
        prediction = predict_next_mood(con, settings.listener_id)
    if prediction is None:
        return dg.MaterializeResult(metadata={"note": "no stored model or no play with a mood"})
    return dg.MaterializeResult(metadata={"run_id": prediction["run_id"],
                                          "distribution": {str(k): round(v, 4) for k, v in prediction["distribution"].items()}})


@dg.asset(key=["ml", "session_start_predictions"], group_name="ml",
          deps=[session_start_model, dbt_model_key("ml_session_start_scoring")], pool=WAREHOUSE_POOL, kinds={"python"})
def session_start_predictions() -> dg.MaterializeResult:
    """Session-start probability for each local hour of the coming day."""
    with settings_and_writer() as (settings, con):
        probs = predict_session_starts(con, settings.listener_id)
    if probs is None:
        return dg.MaterializeResult(metadata={"note": "no stored model or no listening history"})
    top = sorted(probs.items(), key=lambda hp: -hp[1])[:3]
    return dg.MaterializeResult(metadata={"top_hours": ", ".join(f"{h:02d}h {p:.2f}" for h, p in top)})


TRAINING_ASSETS = (mood_clusters, next_mood_model, session_start_model)
