"""The DuckDB side: settings, connections with single-writer discipline, raw DDL, loaders."""
