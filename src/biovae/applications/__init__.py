"""Applications: questions asked of a fitted model (structures, ...)."""
