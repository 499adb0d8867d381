"""Each listener's dashboard export, its preview page, and its delivery to the website."""


import json
from datetime import timedelta

import dagster as dg

from export.dashboard import export_dashboard
from export.deliver import deliver
from export.preview import chart_markdown, write_preview
from orchestration.assets.dbt import dbt_model_key
from orchestration.assets.ml import next_mood_predictions, recommendations, session_start_predictions
from orchestration.listeners import LISTENERS, listener_ids
from orchestration.resources import settings_and_writer
from orchestration.status import read_status, status_for
from warehouse.settings import load_settings

MARTS_READ = ("fct_plays", "fct_sessions", "dim_tracks", "session_start_profile", "listening_mood_trajectory",
              "genre_profiles", "listening_drift", "listener_coverage")


@dg.asset(
    key=["export", "dashboard_data"], group_name="export", kinds={"json"}, partitions_def=LISTENERS,
    deps=[next_mood_predictions, session_start_predictions, recommendations, *(dbt_model_key(m) for m in MARTS_READ)],
    # the refresh schedule writes the main listener's export every 30 minutes
    freshness_policy=dg.FreshnessPolicy.time_window(warn_window=timedelta(hours=1), fail_window=timedelta(hours=3)),
)
def dashboard_data(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    """The listener's dashboard_data.json (the main listener's is the one the website reads):
    built from marts and ml tables, validated against the contract's schema, written atomically;
    then dashboard.html next to it, the same data as charts, with links to the other listeners."""
    listener = context.partition_key
    # reads only, but as the step's writer: no other job can be mid-build meanwhile
    with settings_and_writer() as (settings, con):
        path = settings.export_path_for(listener)
        data = export_dashboard(con, listener, path, settings.recently_played_limit,
                                status_for(read_status(settings), listener))
        household = [(other, settings.export_path_for(other)) for other in listener_ids(con)]
    preview = write_preview(data, path.with_name("dashboard.html"), household)
    prediction = data["next_prediction"]
    return dg.MaterializeResult(metadata={
        "path": dg.MetadataValue.path(str(path.resolve())),
        "preview": dg.MetadataValue.path(str(preview.resolve())),
        "charts": dg.MetadataValue.md(chart_markdown(data)),
        "prediction_source": prediction["prediction_source"] or "none",
        "next_mood": prediction["mood_label"] or "none",
        "top_hours": ", ".join(f"{h['hour']:02d}h {h['probability']:.2f}" for h in data["top_hours"]),
        "recently_played": len(data["recently_played"]),
        "drift_detected": data["drift"]["drift_detected"],
    })


@dg.asset(key=["export", "website"], group_name="export", kinds={"git"}, deps=[dashboard_data],
          partitions_def=LISTENERS)
def website(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    """Commit the listener's dashboard_data.json to the website repository when it changed
    (off while WEBSITE_REPO is empty)."""
    settings, listener = load_settings(), context.partition_key
    if not settings.website_repo:
        context.log.info("WEBSITE_REPO is not set: delivery is off")
        return dg.MaterializeResult(metadata={"delivered": False, "reason": "WEBSITE_REPO not set"})
    path, target = settings.export_path_for(listener), settings.website_file_for(listener)
    data = json.loads(path.read_text())
    result = deliver(path, settings, f"listener {listener}, generated {data['generated_at']}", target)
    context.log.info(result.message)
    return dg.MaterializeResult(metadata={
        "delivered": result.committed, "commit": result.commit or "none", "message": result.message,
        "branch": settings.website_repo_branch, "file": target,
    })
