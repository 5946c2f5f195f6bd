"""Denoised and batch-corrected expression from a fitted count model.

For a count likelihood with observed library size ℓ (Poisson, NB, ZINB), the decoder's mean at
the posterior mean z̄ = E_q[z|x] is E[x | z̄, c] = ℓ · softmax(ρ(z̄, c)) (times 1 − π for ZINB).
*Denoised* expression is ``library_size`` · softmax(ρ(z̄, c)) (10,000 by default, "counts per
10k"): the observed ℓ replaced by a common one, so records become comparable, and for ZINB the
NB part's expression without its zero inflation (a detection rate, not expression), so every
record sums to ``library_size`` (as scvi-tools' ``get_normalized_expression``).
*Batch-corrected* expression also decodes every record as if it came from one reference level
of a categorical covariate (the encoder still sees the record's own covariates), which removes
what the decoder attributes to that covariate.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from biovae.errors import ConfigError, DataError, model_phrase
from biovae.inputs import as_dataset
from biovae.levels import find_level
from biovae.likelihoods.base import ObservedLibrary

LIBRARY_SIZE = 1e4


def check_library_size(library_size: Any, name: str = "library_size") -> float:
    """``library_size`` as a positive finite number, or a one-line ConfigError naming the
    option ``name``: a negative, NaN or infinite size decoded to NaN or inf without a word."""
    number = isinstance(library_size, (int, float, np.number)) and not isinstance(
        library_size, bool
    )
    if not (number and np.isfinite(library_size) and library_size > 0):
        raise ConfigError(
            f"{name} must be a positive number (e.g. 1e4, counts per 10k), got {library_size!r}"
        )
    return float(library_size)


def covariate_levels(est: Any, key: str) -> tuple[str, ...]:
    """The levels of categorical covariate ``key`` of ``est``'s model (a one-line error if the
    model has no such covariate)."""
    cov = est.schema_.covariates
    if key not in cov.categorical:
        raise ConfigError(
            f"{key!r} is not a categorical covariate of this model (covariates: "
            f"{', '.join(cov.categorical) or 'none'}); fit with it as a batch key first"
        )
    return cov.categories[cov.categorical.index(key)]


def _reference_level(est: Any, key: str, level: str) -> int:
    """The index of ``level`` among the levels of categorical covariate ``key`` (a one-line
    error when it is none of them)."""
    levels = covariate_levels(est, key)
    text = find_level(level, levels)
    if text is None:
        raise DataError(f"{key} has no level {level!r}; choose one of {', '.join(levels)}")
    return levels.index(text)


def check_model(est: Any) -> Any:
    """``est``'s model, or a one-line ConfigError unless it is a fitted VAE or autoencoder with
    a count likelihood that has a library size."""
    model = getattr(est, "model_", None)
    if model is None or not hasattr(model, "decode"):
        raise ConfigError(
            f"denoised expression needs a fitted VAE or autoencoder, not {model_phrase(est)}"
        )
    if not isinstance(model.likelihood, ObservedLibrary):
        raise ConfigError(
            f"denoised expression needs a count likelihood with a library size, not "
            f"'{model.likelihood.name}'"
        )
    return model


@torch.no_grad()
def expression(
    est: Any,
    X: Any,
    obs: Any = None,
    *,
    library_size: float = LIBRARY_SIZE,
    batch_key: str | None = None,
    reference: str | None = None,
    layer: str | None = None,
) -> np.ndarray:
    """Denoised (and with ``batch_key``/``reference`` batch-corrected) expression, (n, genes).

    Parameters
    ----------
    est
        A fitted :class:`biovae.VAE` with a count likelihood.
    X, obs
        The records and their metadata (anything :func:`biovae.inputs.as_dataset` accepts).
    library_size
        Common library size the expression is scaled to.
    batch_key, reference
        Decode every record with covariate ``batch_key`` set to level ``reference``.
    layer
        AnnData layer holding the counts; None: the layer the model was fitted on (as
        :func:`biovae.applications.differential.differential_expression` reads it).
    """
    model = check_model(est)
    if (batch_key is None) != (reference is None):
        raise ConfigError("give both batch_key and reference for batch-corrected expression")
    library_size = check_library_size(library_size)
    ds = as_dataset(X, obs, layer=est.config_.data.layer if layer is None else layer)
    ref = _reference_level(est, batch_key, reference) if batch_key else None
    cov = est.schema_.covariates
    # written in place: one dense (records × genes) array at the peak, not pieces and their join
    out, start = np.empty((len(ds), int(np.prod(est.schema_.data_shape))), np.float32), 0
    for b in est.batches(ds):
        c_dec = b.c if ref is None else cov.with_level(b.c, batch_key, ref)
        params = model.decoder.params(model.encode(b.x, b.c).mean, c_dec)
        out[start : start + len(b)] = (library_size * model.likelihood.frequencies(params)).numpy()
        start += len(b)
    return out
