"""Diagnostics: questions asked of a fitted model (latent usage, collapse, fidelity)."""

from biovae.diagnostics.latent import (
    ACTIVE_THRESHOLD,
    active_units,
    kl_per_dimension,
    unit_variances,
)

__all__ = ["ACTIVE_THRESHOLD", "active_units", "kl_per_dimension", "unit_variances"]
