"""Mood clusters (shared by the household), and each listener's two models and their predictions."""

import dagster as dg

from ml import next_mood, session_start
from ml.moods import assign_track_moods, train_mood_run
from ml.oracle import load_oracle
from ml.recommendations import recommend_for_listener
from ml.registry import ModelRun, current_run, latest_run
from ml.training import OVERFIT_MARGIN, overfitting
from orchestration.assets.dbt import dbt_model_key
from orchestration.listeners import LISTENERS
from orchestration.resources import settings_and_writer

MOOD_METRICS = ("accuracy", "top3_accuracy", "f1_macro", "log_loss", "brier")
SESSION_METRICS = ("roc_auc", "pr_auc", "brier", "log_loss")


def _comparison_table(run: ModelRun, metric_names: tuple[str, ...]) -> str:
    """Markdown: the model next to every baseline (and a demo listener's oracle) on the holdout,
    the served one marked."""
    header = "| predictor | " + " | ".join(metric_names) + " | served |"
    lines = [header, "|" + "---|" * (len(metric_names) + 2)]
    rows = {"model": run.metrics, **run.baselines, **({"oracle (the generator)": run.oracle} if run.oracle else {})}
    served = run.served.removesuffix("_baseline")
    for name, metrics in rows.items():
        cells = ["—" if metrics.get(m) is None else f"{metrics[m]:.4f}" for m in metric_names]
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {'✅' if name == served else ''} |")
    gap = overfitting(run.metrics, run.baselines)
    if gap is not None:
        lines.append(f"\nThe model's log loss: {run.metrics['train_log_loss']:.4f} on its training part, "
                     f"{run.metrics['log_loss']:.4f} on the holdout; it grows {gap:.0%} of the holdout figure "
                     f"more than the best baseline's does (above {OVERFIT_MARGIN:.0%} the model overfits).")
    if run.oracle and run.oracle.get("gap_closed") is not None:
        lines.append(f"\nThe model closes {run.oracle['gap_closed']:.0%} of the log-loss gap between the best "
                     "baseline and the oracle.")
    return "\n".join(lines)


def _reliability_table(run: ModelRun) -> str:
    """Markdown: predicted against observed per decile of the served predictor's holdout probabilities."""
    rows = run.metrics.get("reliability") or []
    lines = ["| decile | mean predicted | observed | rows |", "|---|---|---|---|"]
    lines += [f"| {i} | {r['predicted']:.3f} | {r['observed']:.3f} | {r['count']} |" for i, r in enumerate(rows, 1)]
    return "\n".join(lines) if rows else "no holdout"


def _serves_model_check(run: ModelRun | None) -> dg.AssetCheckResult:
    """Warns (yellow in the UI) when a retrain serves a baseline instead of the learned model."""
    served = run.served if run else "none"
    return dg.AssetCheckResult(
        check_name="serves_learned_model", passed=served == "model", severity=dg.AssetCheckSeverity.WARN,
        metadata={"served": served, "why": (run.note or "") if run else "no mood clusters yet"},
    )


def overfitting_check(run: ModelRun | None) -> dg.AssetCheckResult:
    """Warns when the model's log loss grows from its training part to the holdout by more than the
    best baseline's does, by over OVERFIT_MARGIN of its holdout figure: it learnt that history's
    noise (a run that trained no model passes, with nothing to compare)."""
    gap = overfitting(run.metrics, run.baselines) if run else None
    metadata = {"margin": OVERFIT_MARGIN, "gap": gap if gap is None else round(gap, 4)}
    if run and gap is not None:
        metadata |= {"train_log_loss": round(run.metrics["train_log_loss"], 4),
                     "holdout_log_loss": round(run.metrics["log_loss"], 4)}
    return dg.AssetCheckResult(check_name="model_does_not_overfit", passed=gap is None or gap <= OVERFIT_MARGIN,
                               severity=dg.AssetCheckSeverity.WARN, metadata=metadata)


def _serves_model_spec(key: list[str]) -> list[dg.AssetCheckSpec]:
    return [dg.AssetCheckSpec("serves_learned_model", asset=key,
                              description="the learned model beat every baseline on the holdout"),
            dg.AssetCheckSpec("model_does_not_overfit", asset=key,
                              description="the model's log loss grows from its training part to the holdout "
                                          f"by at most {OVERFIT_MARGIN:.0%} more than the best baseline's")]


def holdout_metadata(run: ModelRun, metric_names: tuple[str, ...]) -> dict:
    """Numeric holdout figures, so the UI plots the model against its best baseline across runs."""
    metadata = {}
    for metric in metric_names:
        model = run.metrics.get(metric)
        baselines = [b[metric] for b in run.baselines.values() if b.get(metric) is not None]
        lower_is_better = metric in ("log_loss", "brier")
        best = (min if lower_is_better else max)(baselines) if baselines else None
        for name, value in (("model", model), ("best_baseline", best)):
            if value is not None:
                metadata[f"holdout/{name}/{metric}"] = dg.MetadataValue.float(float(value))
    if run.metrics.get("train_log_loss") is not None:
        metadata["train/model/log_loss"] = dg.MetadataValue.float(float(run.metrics["train_log_loss"]))
        gap = overfitting(run.metrics, run.baselines)
        if gap is not None:
            metadata["overfit/log_loss_gap"] = dg.MetadataValue.float(float(gap))
    if run.oracle:
        for metric in ("log_loss", "brier", "gap_closed"):
            if run.oracle.get(metric) is not None:
                name = "oracle/gap_closed" if metric == "gap_closed" else f"holdout/oracle/{metric}"
                metadata[name] = dg.MetadataValue.float(float(run.oracle[metric]))
    return metadata


def _run_metadata(run: ModelRun, metric_names: tuple[str, ...]) -> dict:
    return {
        "run_id": run.run_id,
        "served": run.served,
        "model_beats_baseline": str(run.model_beats_baseline),
        "holdout_comparison": dg.MetadataValue.md(_comparison_table(run, metric_names)),
        "reliability": dg.MetadataValue.md(_reliability_table(run)),
        "chosen_candidate": str(run.params.get("chosen")),
        **holdout_metadata(run, metric_names),
        "n_train": run.n_train,
        "n_val": run.n_val,
        "note": run.note or "",
        "artifact": dg.MetadataValue.path(run.artifact_path or ""),
    }


@dg.multi_asset(
    specs=[dg.AssetSpec(["ml", "mood_clusters"], group_name="moods", kinds={"scikit-learn"}, skippable=True,
                        deps=[dbt_model_key("dim_tracks"), dbt_model_key("fct_plays")],
                        description="KMeans moods of the tracks the household played (k by silhouette): one mood "
                                    "space for every listener, ids kept stable across retrains."),
           dg.AssetSpec(["ml", "track_moods"], group_name="moods", kinds={"python"}, skippable=True,
                        deps=[dbt_model_key("dim_tracks")],
                        description="Every track with audio features, with the mood of the latest clustering.")],
    can_subset=True, name="moods",
)
def moods(context: dg.AssetExecutionContext):
    """Recluster (full retrain) and give every track the mood of the latest clustering (both jobs;
    no refit). A refresh before any clustering clusters first, so a new history gets moods at once."""
    clusters, assigned = dg.AssetKey(["ml", "mood_clusters"]), dg.AssetKey(["ml", "track_moods"])
    with settings_and_writer() as (settings, con):
        recluster = clusters in context.selected_asset_keys or latest_run(con, "mood_clusters", None) is None
        run = train_mood_run(con, settings.data_dir, settings.mood_k) if recluster else None
        count = assign_track_moods(con) if assigned in context.selected_asset_keys else None
    if clusters in context.selected_asset_keys:
        if run is None:
            context.log.warning("no played tracks with audio features: no mood clusters this run")
        yield dg.MaterializeResult(asset_key=clusters, metadata={
            "run_id": run.run_id if run else "none", "tracks": run.n_train if run else 0,
            **{k: v for k, v in (run.metrics if run else {}).items() if v is not None}})
    if count is not None:
        if recluster and clusters not in context.selected_asset_keys:
            context.log.info("no mood clustering yet: clustered the played tracks first")
        yield dg.MaterializeResult(asset_key=assigned, metadata={"dagster/row_count": count})


def _model_asset(model_name: str, module, train: str, training_table: str, metric_names: tuple[str, ...],
                 description: str):
    """A listener's model (both models are one such asset): `module.<train>` (looked up when the
    asset runs) through ml/training.py's routine, its run as metadata, and the serves_learned_model
    and model_does_not_overfit checks."""
    key = ["ml", f"{model_name}_model"]

    @dg.asset(key=key, group_name="models", deps=[dbt_model_key(training_table)],
              partitions_def=LISTENERS, kinds={"scikit-learn"}, check_specs=_serves_model_spec(key),
              description=description)
    def model_asset(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        with settings_and_writer() as (settings, con):
            run = getattr(module, train)(con, context.partition_key, settings.data_dir,
                                         load_oracle(settings.data_dir, context.partition_key))
        if run is None:
            return dg.MaterializeResult(metadata={"served": "none", "note": "no mood clusters yet"},
                                        check_results=[_serves_model_check(None), overfitting_check(None)])
        return dg.MaterializeResult(metadata=_run_metadata(run, metric_names),
                                    check_results=[_serves_model_check(run), overfitting_check(run)])

    return model_asset


def _predictions_asset(model_name: str, module, predict: str, model_asset, scoring_table: str, describe,
                       nothing: str, description: str):
    """A listener's predictions from the stored served predictor; before any training run, from
    the best baseline, judged now (both models' predictions are one such asset)."""

    @dg.asset(key=["ml", f"{model_name}_predictions"], group_name="models",
              partitions_def=LISTENERS, deps=[model_asset, dbt_model_key(scoring_table)], kinds={"python"},
              description=description)
    def predictions_asset(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        listener = context.partition_key
        with settings_and_writer() as (settings, con):
            if current_run(con, model_name, listener, module.COLUMNS.names()) is None:
                module.serve_best_baseline(con, listener, settings.data_dir)
            prediction = getattr(module, predict)(con, listener)
        if prediction is None:
            return dg.MaterializeResult(metadata={"note": nothing})
        return dg.MaterializeResult(metadata=describe(prediction))

    return predictions_asset


def _top_hours(probs: dict[int, float]) -> dict:
    top = sorted(probs.items(), key=lambda hp: -hp[1])[:3]
    return {"top_hours": ", ".join(f"{h:02d}h {p:.2f}" for h, p in top)}


next_mood_model = _model_asset(
    "next_mood", next_mood, "train_next_mood", "ml_next_track_training", MOOD_METRICS,
    "The listener's next-track mood model; served only if it beats every baseline on the holdout.")
session_start_model = _model_asset(
    "session_start", session_start, "train_session_start", "ml_session_start_training", SESSION_METRICS,
    "The listener's session-start model; served only if it beats the hourly rates on the holdout.")
next_mood_predictions = _predictions_asset(
    "next_mood", next_mood, "predict_next_mood", next_mood_model, "ml_next_track_scoring",
    lambda p: {"run_id": p["run_id"], "distribution": {str(k): round(v, 4) for k, v in p["distribution"].items()}},
    "no mood clusters or no play with a mood",
    "The next mood after the listener's latest play, from the stored served predictor (before any training: "
    "from the best baseline, judged now).")
session_start_predictions = _predictions_asset(
    "session_start", session_start, "predict_session_starts", session_start_model,
    "ml_session_start_scoring", _top_hours, "no listening history",
    "Session-start probability for each local hour of the listener's coming day.")


@dg.asset(key=["ml", "recommendations"], group_name="models", partitions_def=LISTENERS,
          deps=[next_mood_predictions], kinds={"python"})
def recommendations(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    """Tracks new to the listener for the predicted mood, from ReccoBeats, kept only when they sit in
    that mood; fetched once per predicted mood (a refresh whose prediction did not change asks nothing)."""
    with settings_and_writer() as (settings, con):
        result = recommend_for_listener(con, settings, context.partition_key)
    if result is None:
        return dg.MaterializeResult(metadata={"note": "no next-mood prediction yet"})
    if result["outcome"] == "unreachable":
        context.log.warning(f"recommendations: {result['note']}; the list holds the listener's own tracks")
    return dg.MaterializeResult(metadata={key: str(value) for key, value in result.items()})


TRAINING_ASSETS = (next_mood_model, session_start_model)
