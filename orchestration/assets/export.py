"""The dashboard export the website reads."""


import dagster as dg

from export.dashboard import export_dashboard
from orchestration.assets.dbt import dbt_model_key
from orchestration.assets.ml import next_mood_predictions, session_start_predictions
from warehouse.connection import read_connection, writer_lock
from warehouse.settings import load_settings

MARTS_READ = ("fct_plays", "fct_sessions", "dim_tracks", "session_start_profile", "listening_mood_trajectory",
              "genre_profiles", "listening_drift")


@dg.asset(
    key=["export", "dashboard_data"], group_name="export", kinds={"json"},
    deps=[next_mood_predictions, session_start_predictions,
          *(dbt_model_key(m) for m in MARTS_READ)],
)
def dashboard_data() -> dg.MaterializeResult:
    """Build dashboard_data.json, validate it against the contract's schema, write it atomically."""
    settings = load_settings()
    # read-only, but under the lock so a concurrent writer cannot be mid-build
    with writer_lock(settings.warehouse, settings.writer_lock_timeout_s), read_connection(settings.warehouse) as con:
        data = export_dashboard(con, settings.listener_id, settings.export_path, settings.recently_played_limit)
    prediction = data["next_prediction"]
    return dg.MaterializeResult(metadata={
        "path": dg.MetadataValue.path(str(settings.export_path.resolve())),
        "prediction_source": prediction["prediction_source"] or "none",
        "next_mood": prediction["mood_label"] or "none",
        "top_hours": ", ".join(f"{h['hour']:02d}h {h['probability']:.2f}" for h in data["top_hours"]),
        "recently_played": len(data["recently_played"]),
        "drift_detected": data["drift"]["drift_detected"],
    })
