"""KL per latent dimension and active units, checked against closed forms and Monte Carlo."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch
from scipy import stats
from tests.conftest import needs_anndata

import biovae
from biovae.config import (
    FitConfig,
    LikelihoodConfig,
    ModelConfig,
    NetworkConfig,
    ObjectiveConfig,
    TrainConfig,
)
from biovae.diagnostics import active_units, kl_per_dimension, unit_variances
from biovae.errors import ConfigError, DataError
from biovae.nn.encoder import MIN_SCALE

N_LATENT = 6


@pytest.fixture(scope="module")
def two_factor_data() -> np.ndarray:
    """x = W z + ε with z ∈ R², orthogonal columns |w| = (2, 1), σ = 0.5; 1000 × 20."""
    rng = np.random.default_rng(0)
    q, _ = np.linalg.qr(rng.normal(size=(20, 2)))
    z = rng.normal(size=(1000, 2))
    return (z @ (q * [2.0, 1.0]).T + 0.5 * rng.normal(size=(1000, 20))).astype(np.float32)


def _config(hidden: tuple[int, ...], epochs: int, beta: float = 1.0) -> FitConfig:
    return FitConfig(
        model=ModelConfig(
            n_latent=N_LATENT,
            likelihood=LikelihoodConfig(variance="shared"),
            network=NetworkConfig(hidden=hidden, dropout=0.0, norm="none"),
        ),
        objective=ObjectiveConfig(beta=beta),
        train=TrainConfig(
            epochs=epochs, batch_size=128, lr=3e-3, validation_fraction=0.0, patience=0
        ),
    )


def _ppca(x: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Maximum-likelihood PPCA: mean, eigenvectors U (f, k), eigenvalues λ (k,), σ²."""
    x = x.astype(np.float64)
    mean = x.mean(0)
    lam, u = np.linalg.eigh(np.cov(x.T, bias=True))
    lam, u = lam[::-1], u[:, ::-1]
    return mean, u[:, :k], lam[:k], float(lam[k:].mean())


def _exact_posterior_vae(x: np.ndarray) -> tuple[biovae.VAE, np.ndarray, float]:
    """A linear-Gaussian VAE whose encoder is set to the exact PPCA posterior.

    q(z|x) = N(Λ⁻¹ Wᵀ (x − μ), σ² Λ⁻¹) with W = U (Λ − σ²I)^{1/2} (Tipping & Bishop 1999).
    """
    est = biovae.VAE("gaussian", config=_config((), epochs=1)).fit(x)
    mean, u, lam, s2 = _ppca(x, N_LATENT)
    w_enc = (np.sqrt(lam - s2) / lam)[:, None] * u.T  # Λ⁻¹ Wᵀ, shape (k, f)
    sd = np.sqrt(s2 / lam)
    enc = est.model_.encoder
    with torch.no_grad():
        enc.loc.weight.copy_(torch.as_tensor(w_enc))
        enc.loc.bias.copy_(torch.as_tensor(-w_enc @ mean))
        enc.scale.weight.zero_()
        enc.scale.bias.copy_(torch.as_tensor(np.log(np.expm1(sd - MIN_SCALE))))
    return est, lam, s2


def test_exact_posterior_matches_closed_form(two_factor_data: np.ndarray) -> None:
    est, lam, s2 = _exact_posterior_vae(two_factor_data)
    # KL_k = ½ log(λ_k/σ²) and A_k = 1 − σ²/λ_k for the exact PPCA posterior
    np.testing.assert_allclose(
        kl_per_dimension(est, two_factor_data), 0.5 * np.log(lam / s2), rtol=1e-3, atol=1e-5
    )
    mask, variances = active_units(est, two_factor_data)
    np.testing.assert_allclose(variances, 1 - s2 / lam, rtol=1e-3, atol=1e-5)
    assert mask.tolist() == (1 - s2 / lam > 0.01).tolist()


def test_pca_activity_matches_eigenvalues(two_factor_data: np.ndarray) -> None:
    _, _, lam, s2 = _ppca(two_factor_data, N_LATENT)
    pca = biovae.PCA(n_latent=N_LATENT, likelihood="gaussian").fit(two_factor_data)
    mask, variances = active_units(pca, two_factor_data, threshold=0.5)
    np.testing.assert_allclose(variances, 1 - s2 / lam, rtol=1e-3)
    assert mask.sum() == 2  # the two true factors; the rest only fit sampling noise


@pytest.fixture(scope="module")
def trained_vae(two_factor_data: np.ndarray) -> biovae.VAE:
    torch.set_num_threads(1)
    return biovae.VAE("gaussian", config=_config((32,), epochs=60)).fit(two_factor_data)


def test_two_true_factors_give_two_active_units(trained_vae, two_factor_data) -> None:
    mask, variances = active_units(trained_vae, two_factor_data)
    kl = kl_per_dimension(trained_vae, two_factor_data)
    assert mask.sum() == 2
    assert (kl[mask] > 0.3).all() and (kl[~mask] < 0.02).all()
    # the dimension with the most KL is also the one that moves most with the data
    assert np.argmax(kl) == np.argmax(variances)


def test_kl_matches_monte_carlo(trained_vae, two_factor_data) -> None:
    qz = trained_vae.model_.encode(torch.as_tensor(two_factor_data[:200]))
    loc, scale = qz.base_dist.loc.detach().numpy(), qz.base_dist.scale.detach().numpy()
    z = loc + scale * np.random.default_rng(1).normal(size=(400, *loc.shape))
    mc = (stats.norm.logpdf(z, loc, scale) - stats.norm.logpdf(z)).mean(axis=(0, 1))
    analytic = kl_per_dimension(trained_vae, two_factor_data[:200])
    assert np.all(np.abs(analytic - mc) < 0.02 + 0.05 * analytic), (analytic, mc)


def test_huge_beta_collapses_every_dimension(two_factor_data: np.ndarray) -> None:
    est = biovae.VAE("gaussian", config=_config((32,), epochs=15, beta=100.0))
    est.fit(two_factor_data)
    mask, _ = active_units(est, two_factor_data)
    assert mask.sum() == 0
    # the rate left is a tiny fraction of the ≈2 nats the same model keeps at β = 1
    assert kl_per_dimension(est, two_factor_data).sum() < 0.05


def test_unit_variances_is_variance_of_means() -> None:
    z = np.array([[0.0, 1.0], [2.0, 1.0]])
    np.testing.assert_allclose(unit_variances(z), [1.0, 0.0])
    with pytest.raises(DataError, match="non-empty"):
        unit_variances(np.zeros((0, 3)))


def test_kl_needs_a_fitted_vae(two_factor_data: np.ndarray) -> None:
    x = two_factor_data[:100]
    ae = biovae.Autoencoder("gaussian", n_latent=2, hidden=(8,), epochs=1).fit(x)
    with pytest.raises(ConfigError, match="needs a VAE"):
        kl_per_dimension(ae, x)
    assert active_units(ae, x)[0].shape == (2,)
    with pytest.raises(ConfigError, match="needs a VAE"):
        kl_per_dimension(biovae.PCA(n_latent=2).fit(x), x)
    with pytest.raises(ConfigError, match="not fitted"):
        kl_per_dimension(biovae.VAE(), x)


def test_kl_rejects_data_of_another_shape(trained_vae) -> None:
    with pytest.raises(DataError, match="model was fitted on"):
        kl_per_dimension(trained_vae, np.zeros((5, 3), dtype=np.float32))


def test_no_records_are_a_data_error_not_a_collapse(trained_vae, two_factor_data) -> None:
    with pytest.raises(DataError, match="at least one record"):
        kl_per_dimension(trained_vae, two_factor_data[:0])
    with pytest.raises(DataError, match="non-empty"):
        active_units(trained_vae, two_factor_data[:0])


def test_kl_reads_the_records_as_transform_does(two_factor_data: np.ndarray) -> None:
    # the model's AnnData layer, its features by name and order, and values it can model:
    # the KL was of adata.X, of columns in any order and NaN where transform refuses
    needs_anndata()
    import anndata as ad
    import pandas as pd

    from biovae.config import DataConfig

    x = two_factor_data[:200]
    adata = ad.AnnData(np.zeros_like(x), layers={"raw": x})
    cfg = replace(_config((), epochs=1), data=DataConfig(layer="raw"))
    est = biovae.VAE("gaussian", config=cfg).fit(adata)
    np.testing.assert_allclose(kl_per_dimension(est, adata), kl_per_dimension(est, x))
    df = pd.DataFrame(x, columns=[f"g{j}" for j in range(x.shape[1])])
    est = biovae.VAE("gaussian", config=_config((), epochs=1)).fit(df)
    with pytest.raises(DataError, match="feature 1 is 'g19' where the model has 'g0'"):
        kl_per_dimension(est, df[df.columns[::-1]])
    x_nan = x.copy()
    x_nan[3, 2] = np.nan
    with pytest.raises(DataError, match="missing"):
        kl_per_dimension(est, x_nan)
