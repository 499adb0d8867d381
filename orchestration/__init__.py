"""Dagster wiring: the only package that knows Dagster exists. Assets are thin wrappers."""
