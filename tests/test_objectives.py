"""Objectives against math: analytic KL vs Monte Carlo, and the ELBO / IWAE bounds of a
linear-Gaussian VAE against the exact probabilistic-PCA log-likelihood."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch.distributions import Independent, MultivariateNormal, Normal

from biovae import VAE
from biovae.config import (
    FitConfig,
    LikelihoodConfig,
    ModelConfig,
    NetworkConfig,
    ObjectiveConfig,
    TrainConfig,
)
from biovae.likelihoods.base import positive
from biovae.models import pca as ppca
from biovae.objectives import Batch, beta_at, iwae_bound, iwae_log_weights, kl_per_dimension


def test_analytic_kl_matches_monte_carlo():
    gen = torch.Generator().manual_seed(0)
    loc, scale = torch.randn(3, 4, generator=gen), torch.rand(3, 4, generator=gen) + 0.2
    q = Independent(Normal(loc, scale), 1)
    p = Independent(Normal(torch.zeros(4), torch.ones(4)), 1)
    analytic = kl_per_dimension(q, p).sum(-1)
    torch.manual_seed(1)
    z = q.sample((200_000,))
    mc = (q.log_prob(z) - p.log_prob(z)).mean(0)
    torch.testing.assert_close(mc, analytic, rtol=0.02, atol=0.01)


def test_warmup_schedule():
    cfg = ObjectiveConfig(beta=2.0, kl_warmup_epochs=4)
    assert [beta_at(cfg, e) for e in range(6)] == [0.5, 1.0, 1.5, 2.0, 2.0, 2.0]
    assert beta_at(ObjectiveConfig(beta=0.3), 0) == 0.3


@pytest.fixture(scope="module")
def ppca_problem():
    """Data from a 2-factor PPCA model in 8 dimensions, and a linear-Gaussian VAE fitted to it."""
    rng = np.random.default_rng(0)
    f, k, sigma = 8, 2, 0.5
    w = rng.normal(size=(f, k)) * 1.5
    mu = rng.normal(size=f)

    def draw(n):
        return (rng.normal(size=(n, k)) @ w.T + mu + sigma * rng.normal(size=(n, f))).astype(
            np.float32
        )

    train, test = draw(4000), draw(2000)
    cfg = FitConfig(
        model=ModelConfig(
            n_latent=k,
            likelihood=LikelihoodConfig("gaussian", variance="shared"),
            network=NetworkConfig(hidden=(), dropout=0.0, norm="none"),
        ),
        train=TrainConfig(epochs=150, batch_size=256, lr=0.03, patience=0, seed=0),
    )
    vae = VAE(config=cfg).fit(train)
    return train, test, vae


def exact_model_log_likelihood(vae, x):
    """log p_θ(x) of the VAE's own linear decoder: x ~ N(b, W Wᵀ + σ² I)."""
    head = vae.model_.decoder.heads["loc"]
    w, b = head.weight.detach().double(), head.bias.detach().double()
    sigma2 = positive(vae.model_.decoder.shared["scale"].detach().double()) ** 2
    cov = w @ w.T + sigma2 * torch.eye(len(b), dtype=torch.float64)
    return MultivariateNormal(b, cov).log_prob(torch.as_tensor(x, dtype=torch.float64))


def test_linear_vae_heldout_elbo_within_one_percent_of_exact_ppca(ppca_problem):
    train, test, vae = ppca_problem
    fit = ppca.fit_ppca(torch.as_tensor(train), 2)
    exact = float(ppca.log_likelihood(fit, torch.as_tensor(test)).mean())
    elbo = float(vae.score_samples(test, n_samples=20).mean())
    assert elbo <= exact + 0.02  # a lower bound (up to Monte-Carlo and fitting noise)
    assert abs(elbo - exact) / abs(exact) < 0.01, (elbo, exact)


def test_iwae_rises_with_k_toward_exact_log_likelihood(ppca_problem):
    _, test, vae = ppca_problem
    exact = float(exact_model_log_likelihood(vae, test).mean())
    x = torch.as_tensor(test)
    torch.manual_seed(0)
    with torch.no_grad():
        bounds = [
            float(iwae_bound(iwae_log_weights(vae.model_, Batch(x), k)).mean())
            for k in (1, 10, 100, 1000)
        ]
    assert bounds[0] < bounds[1] < bounds[2] <= bounds[3] + 1e-3, bounds
    assert bounds[3] <= exact + 1e-3
    assert exact - bounds[3] < 0.01 * abs(exact)
    assert exact - bounds[0] > exact - bounds[3]


def test_ppca_closed_form_matches_dense_gaussian():
    rng = np.random.default_rng(3)
    x = torch.as_tensor(rng.normal(size=(300, 6)) @ rng.normal(size=(6, 6)))
    fit = ppca.fit_ppca(x, 2)
    w = fit.loadings
    cov = w @ w.T + fit.noise_variance * torch.eye(6, dtype=torch.float64)
    dense = MultivariateNormal(fit.mean, cov).log_prob(x.double())
    torch.testing.assert_close(ppca.log_likelihood(fit, x), dense)
    # posterior mean: M^-1 W^T (x - mu) with M = W^T W + sigma^2 I
    m = w.T @ w + fit.noise_variance * torch.eye(2, dtype=torch.float64)
    post = torch.linalg.solve(m, w.T @ (x.double() - fit.mean).T).T
    torch.testing.assert_close(ppca.posterior(fit, x)[0], post)
    assert math.isfinite(fit.noise_variance) and fit.noise_variance > 0


def test_iwae_weights_drawn_in_chunks_estimate_the_same_bound(ppca_problem, monkeypatch):
    """K samples decoded a few at a time (bounded memory) or all at once: the same bound."""
    from biovae import objectives

    _, test, vae = ppca_problem
    batch = Batch(torch.as_tensor(test))
    bounds = {}
    for rows in (10**9, 1):  # one decoder call; one sample per call
        monkeypatch.setattr(objectives, "DECODE_ROWS", rows)
        torch.manual_seed(0)
        with torch.no_grad():
            log_w = iwae_log_weights(vae.model_, batch, 200)
        assert log_w.shape == (200, len(test))
        bounds[rows] = float(iwae_bound(log_w).mean())
    exact = float(exact_model_log_likelihood(vae, test).mean())
    assert abs(bounds[1] - bounds[10**9]) < 0.002 * abs(exact), (bounds, exact)


def test_iwae_streamed_over_chunks_equals_the_bound_and_se_of_all_weights_at_once():
    """Running log-sums over chunks of draws give IWAE-K and its Monte-Carlo standard error
    as computed from the whole (K, n) matrix, without holding it; weights far from 0 in log
    space (−1e4) and K = 1 included."""
    from biovae.diagnostics.likelihood import iwae_monte_carlo_se
    from biovae.objectives import iwae_streamed

    log_w = torch.randn(500, 7, dtype=torch.float64) * 3 - 1e4
    bound, se = iwae_streamed(log_w.split([1, 99, 250, 150]))
    k = log_w.shape[0]
    w_hat = torch.exp(log_w - torch.logsumexp(log_w, 0) + math.log(k))  # w / mean w, direct
    direct_se = torch.sqrt(((w_hat**2).mean(0) - 1).clamp_min(0) / (k - 1))
    torch.testing.assert_close(bound, torch.logsumexp(log_w, 0) - math.log(k))
    torch.testing.assert_close(se, direct_se)
    torch.testing.assert_close(iwae_monte_carlo_se(log_w), direct_se)
    one, one_se = iwae_streamed([log_w[:1]])
    torch.testing.assert_close(one, log_w[0]) and torch.isnan(one_se).all()
    with pytest.raises(ValueError, match="at least one draw"):
        iwae_streamed([])


def test_score_streams_the_log_weights_and_equals_the_bound_of_all_of_them(ppca_problem):
    """score(iwae=K) (log weights summed chunk by chunk, never held as a (K, n) matrix) equals
    IWAE-K of the whole matrix for the same record-keyed draws, and is near log p(x)."""
    from biovae.training import seeded

    _, test, vae = ppca_problem
    streamed = vae.score_samples(test[:20], iwae=300, seed=4)
    ds, source = vae._source(test[:20], None)
    with seeded(4), torch.no_grad():
        direct = [
            iwae_bound(iwae_log_weights(vae.model_, b, 300)).double()
            for b in vae._scoring_batches(ds, source, 4)
        ]
    np.testing.assert_allclose(streamed, torch.cat(direct).numpy(), rtol=1e-5)
    exact = exact_model_log_likelihood(vae, test[:20]).numpy()
    assert abs(streamed.mean() - exact.mean()) < 0.01 * abs(exact.mean())
