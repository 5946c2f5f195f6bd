"""How much each latent dimension is used: KL per dimension and active units.

For a VAE with prior p(z) = N(0, I) the rate splits over latent dimensions,

    KL(q(z|x) || p(z)) = Σ_k KL(q(z_k|x) || N(0, 1)),

and a dimension whose KL is ≈ 0 for every record carries no information about x: it has
*collapsed* to the prior. A second, model-agnostic view is the activity of Burda et al. (2016):
dimension k is *active* when A_k = Var_x(E_q[z_k | x]) exceeds a threshold (0.01 in the paper),
i.e. when its posterior mean moves with the data.

For a linear-Gaussian VAE fitted to x = W z + ε, ε ~ N(0, σ² I), with orthogonal columns w_k,
the exact posterior gives KL_k = ½ log(1 + |w_k|²/σ²) and A_k = |w_k|² / (|w_k|² + σ²); the
tests check both against these closed forms.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from torch.distributions import Distribution

from biovae.data.dataset import Dataset
from biovae.errors import ConfigError, DataError

#: Burda et al. (2016): a dimension is active when Var_x E_q[z_k] exceeds this.
ACTIVE_THRESHOLD = 0.01


def kl_per_dimension(est: Any, ds: Dataset | Any) -> np.ndarray:
    """Mean KL(q(z_k|x) || p(z_k)) per latent dimension over the records of ``ds``.

    Parameters
    ----------
    est
        A fitted :class:`biovae.VAE` (the autoencoder and PCA have no posterior to compare).
    ds
        The records: a :class:`~biovae.data.dataset.Dataset` or anything
        the estimator's ``transform`` accepts, with the model's features and covariates.

    Returns
    -------
    numpy.ndarray
        ``(k,)`` float64, nats per record; the sum is the mean rate KL(q || p).
    """
    from biovae.objectives import rate_terms

    model = _stochastic_model(est)
    total = torch.zeros(model.n_latent, dtype=torch.float64)
    n = 0
    for batch, qz in _posteriors(est, ds):
        with torch.no_grad():
            total += rate_terms(model, batch.x, batch.c, qz)[0].double().sum(0)
        n += qz.batch_shape[0]
    if n == 0:  # an all-zero KL would read as full collapse
        raise DataError("KL per latent dimension needs at least one record, got none")
    return (total / n).numpy()


def active_units(
    est: Any, ds: Dataset | Any, threshold: float = ACTIVE_THRESHOLD
) -> tuple[np.ndarray, np.ndarray]:
    """Which latent dimensions are active: Var over records of E_q[z_k|x] > ``threshold``.

    Parameters
    ----------
    est
        A fitted VAE, Autoencoder or PCA (anything with ``transform`` giving posterior means).
        For the autoencoder the codes are not tied to a unit prior scale, so the threshold
        is only meaningful relative to the spread of its codes.
    ds
        The records (a Dataset or anything the estimator's ``transform`` accepts).
    threshold
        Activity threshold A_k > threshold (Burda et al. 2016 use 0.01).

    Returns
    -------
    mask : numpy.ndarray
        ``(k,)`` bool, True for active dimensions.
    variances : numpy.ndarray
        ``(k,)`` float64 activities A_k.
    """
    return active_dimensions(np.asarray(est.transform(ds)), threshold)


def active_dimensions(
    z_mean: np.ndarray, threshold: float = ACTIVE_THRESHOLD
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`active_units` of posterior means ``z_mean`` (n, k) already at hand: the mask
    A_k > ``threshold`` and the activities A_k (:func:`unit_variances`)."""
    variances = unit_variances(z_mean)
    return variances > threshold, variances


def unit_variances(z_mean: np.ndarray) -> np.ndarray:
    """Activity A_k = variance over records of the posterior means ``z_mean`` (n, k)."""
    z = np.asarray(z_mean, dtype=np.float64)
    if z.ndim != 2 or z.shape[0] == 0:
        raise DataError(
            f"posterior means must be a non-empty (records, latent) array, got shape {z.shape}"
        )
    return z.var(axis=0)


def _stochastic_model(est: Any):
    model = getattr(est, "model_", None)
    if model is None:
        if hasattr(est, "fit_") or hasattr(est, "history_"):
            raise ConfigError(
                f"KL per latent dimension needs a VAE; a {type(est).__name__} has "
                "no posterior distribution (use active_units instead)"
            )
        raise ConfigError(f"this {type(est).__name__} is not fitted yet; call fit() first")
    if not model.stochastic:
        raise ConfigError(
            f"KL per latent dimension needs a VAE; a {type(est).__name__} has a "
            "deterministic encoder and no posterior (use active_units instead)"
        )
    return model


@torch.no_grad()
def _posteriors(est: Any, data: Dataset | Any) -> Iterator[tuple[Any, Distribution]]:
    """Consecutive batches of the records of ``data`` and their q(z|x, c). The records are read
    and checked as :meth:`~biovae.VAE.transform` reads them (the model's AnnData layer, its
    features by name and order, values its likelihood can model), so the KL is of the data
    whose posterior means :func:`active_units` measures."""
    model = est.model_
    for batch in est.batches(data):
        yield batch, model.encode(batch.x, batch.c)
