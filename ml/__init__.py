"""Pure-Python ML: mood clusters, next-track mood, session start, baselines, evaluation, registry."""
