"""The dashboard export: dashboard_data.json built from marts and ml tables, validated, written atomically."""
