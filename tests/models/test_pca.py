"""The PCA baseline against Tipping & Bishop's closed-form maximum-likelihood PPCA, computed
here from numpy's eigendecomposition of the sample covariance."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.stats import multivariate_normal

from biovae.models import pca as ppca


@pytest.mark.parametrize(("n", "f", "k"), [(50, 6, 2), (5, 8, 2), (30, 4, 3)])
def test_fit_is_the_closed_form_mle(n, f, k):
    rng = np.random.default_rng(n)
    x = rng.normal(size=(n, f)) @ rng.normal(size=(f, f))
    fit = ppca.fit_ppca(torch.as_tensor(x), k)
    lam, u = np.linalg.eigh(np.cov(x.T, bias=True))  # the MLE uses the 1/n covariance
    lam, u = lam[::-1], u[:, ::-1]
    sigma2 = lam[k:].mean()  # σ² = mean of the discarded eigenvalues (zeros beyond rank too)
    w = u[:, :k] * np.sqrt(lam[:k] - sigma2)  # W = U_k (Λ_k − σ² I)^½, up to column signs
    assert fit.noise_variance == pytest.approx(sigma2, rel=1e-10)
    np.testing.assert_allclose(np.abs(fit.loadings.numpy()), np.abs(w), atol=1e-10)
    cov = w @ w.T + sigma2 * np.eye(f)
    ref = multivariate_normal(x.mean(0), cov).logpdf(x)
    np.testing.assert_allclose(ppca.log_likelihood(fit, torch.as_tensor(x)).numpy(), ref)
    # the posterior z | x of the linear-Gaussian model, by conditioning the joint Gaussian
    gain = w.T @ np.linalg.inv(cov)
    mean, sd = ppca.posterior(fit, torch.as_tensor(x))
    np.testing.assert_allclose(
        mean.numpy() * np.sign(fit.loadings.numpy()[0] * w[0]),
        ((x - x.mean(0)) @ gain.T),
        atol=1e-9,
    )
    np.testing.assert_allclose(sd.numpy() ** 2, np.diag(np.eye(k) - gain @ w), rtol=1e-9)
