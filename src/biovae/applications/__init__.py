"""Applications: questions asked of a fitted model (variant effects, trajectories, expression,
structures, ...)."""
