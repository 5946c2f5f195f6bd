"""Applications: questions asked of a fitted model (trajectories, expression, structures, ...)."""
