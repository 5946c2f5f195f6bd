"""Applications: questions answered with a fitted model (trajectories, ...)."""
