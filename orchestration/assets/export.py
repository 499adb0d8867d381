"""The dashboard export the website reads, its preview page, and its delivery to the website."""


import json

import dagster as dg

from export.dashboard import export_dashboard
from export.deliver import deliver
from export.preview import chart_markdown, write_preview
from orchestration.assets.dbt import dbt_model_key
from orchestration.assets.ml import next_mood_predictions, session_start_predictions
from orchestration.resources import settings_and_writer
from warehouse.settings import load_settings

MARTS_READ = ("fct_plays", "fct_sessions", "dim_tracks", "session_start_profile", "listening_mood_trajectory",
              "genre_profiles", "listening_drift")


@dg.asset(
    key=["export", "dashboard_data"], group_name="export", kinds={"json"},
    deps=[next_mood_predictions, session_start_predictions,
          *(dbt_model_key(m) for m in MARTS_READ)],
)
def dashboard_data() -> dg.MaterializeResult:
    """Build dashboard_data.json, validate it against the contract's schema, write it atomically;
    then dashboard.html next to it, the same data as charts, for a look without the website."""
    # reads only, but as the step's writer: no other job can be mid-build meanwhile
    with settings_and_writer() as (settings, con):
        data = export_dashboard(con, settings.listener_id, settings.export_path, settings.recently_played_limit)
    preview = write_preview(data, settings.export_path.with_name("dashboard.html"))
    prediction = data["next_prediction"]
    return dg.MaterializeResult(metadata={
        "path": dg.MetadataValue.path(str(settings.export_path.resolve())),
        "preview": dg.MetadataValue.path(str(preview.resolve())),
        "charts": dg.MetadataValue.md(chart_markdown(data)),
        "prediction_source": prediction["prediction_source"] or "none",
        "next_mood": prediction["mood_label"] or "none",
        "top_hours": ", ".join(f"{h['hour']:02d}h {h['probability']:.2f}" for h in data["top_hours"]),
        "recently_played": len(data["recently_played"]),
        "drift_detected": data["drift"]["drift_detected"],
    })


@dg.asset(key=["export", "website"], group_name="export", kinds={"git"}, deps=[dashboard_data])
def website(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    """Commit dashboard_data.json to the website repository when it changed (off while WEBSITE_REPO is empty)."""
    settings = load_settings()
    if not settings.website_repo:
        context.log.info("WEBSITE_REPO is not set: delivery is off")
        return dg.MaterializeResult(metadata={"delivered": False, "reason": "WEBSITE_REPO not set"})
    data = json.loads(settings.export_path.read_text())
    summary = f"listener {data['listener']['id']}, generated {data['generated_at']}"
    result = deliver(settings.export_path, settings, summary)
    context.log.info(result.message)
    return dg.MaterializeResult(metadata={
        "delivered": result.committed, "commit": result.commit or "none", "message": result.message,
        "branch": settings.website_repo_branch, "file": settings.website_repo_file,
    })
