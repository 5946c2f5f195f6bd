"""Diagnostics: questions asked of a fitted model (latent usage, collapse, fidelity).

The names below load :mod:`biovae.diagnostics.latent` (torch) when first used, so that a
torch-free submodule (the integration metrics' names, which ``biovae integration --help``
lists) can be imported alone."""

__all__ = [
    "ACTIVE_THRESHOLD",
    "active_dimensions",
    "active_units",
    "kl_per_dimension",
    "unit_variances",
]


def __getattr__(name: str):
    if name in __all__:
        from biovae.diagnostics import latent

        return getattr(latent, name)
    raise AttributeError(f"module 'biovae.diagnostics' has no attribute {name!r}")
