"""Ground truth for the likelihood and amortization diagnostics: a linear-Gaussian (PPCA)
decoder whose log p(x), exact posterior and best mean-field posterior are known in closed form."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch.distributions import MultivariateNormal

from biovae import likelihoods
from biovae.config import (
    LikelihoodConfig,
    ModelConfig,
    NetworkConfig,
    ObjectiveConfig,
    TrainConfig,
)
from biovae.diagnostics.amortization import amortization_gap
from biovae.diagnostics.likelihood import log_likelihood
from biovae.likelihoods.base import inverse_positive
from biovae.models import build_model
from biovae.objectives import Batch
from biovae.training import InMemorySource, fit_model, seeded

F_, K_, SIGMA = 6, 2, 0.5


class Truth:
    """PPCA with loadings W; ``orthogonal`` W (the form of the PPCA MLE) makes the exact
    posterior diagonal, otherwise the best mean-field q falls short of log p(x)."""

    def __init__(self, seed=0, orthogonal=False):
        rng = np.random.default_rng(seed)
        w = rng.normal(size=(F_, K_))
        if orthogonal:
            w = np.linalg.qr(w)[0] * np.array([2.0, 1.2])
        self.w = torch.as_tensor(w, dtype=torch.float32)
        self.mu = torch.as_tensor(rng.normal(size=F_), dtype=torch.float32)
        gen = torch.Generator().manual_seed(seed)
        z = torch.randn(3000, K_, generator=gen)
        self.x = z @ self.w.T + self.mu + SIGMA * torch.randn(3000, F_, generator=gen)

    def log_px(self, x):
        w, mu = self.w.double(), self.mu.double()
        cov = w @ w.T + SIGMA**2 * torch.eye(F_, dtype=torch.float64)
        return MultivariateNormal(mu, cov).log_prob(x.double())

    def mean_field_gap(self):
        """log p(x) − best mean-field ELBO = ½ (Σ_j log P_jj − log det P), P = I + WᵀW/σ²."""
        w = self.w.double()
        p = torch.eye(K_, dtype=torch.float64) + w.T @ w / SIGMA**2
        return float(0.5 * (torch.log(torch.diagonal(p)).sum() - torch.logdet(p)))


def model_with_true_decoder(truth: Truth):
    lik = likelihoods.build(LikelihoodConfig("gaussian", variance="shared"), (F_,))
    cfg = ModelConfig(
        n_latent=K_,
        likelihood=lik.config,
        network=NetworkConfig(hidden=(), dropout=0.0, norm="none"),
    )
    with seeded(0):
        model = build_model(lik, 0, cfg)
    with torch.no_grad():
        model.decoder.heads["loc"].weight.copy_(truth.w)
        model.decoder.heads["loc"].bias.copy_(truth.mu)
        model.decoder.shared["scale"].fill_(inverse_positive(SIGMA))
    for p in model.decoder.parameters():
        p.requires_grad_(False)
    return model


def train_encoder(model, truth, epochs):
    if epochs == 0:
        return
    with seeded(1):
        fit_model(
            model,
            InMemorySource(truth.x[:2500]),
            None,
            ObjectiveConfig(),
            TrainConfig(epochs=epochs, batch_size=100, lr=0.01, patience=0),
            progress=False,
        )
    for p in model.decoder.parameters():
        p.requires_grad_(False)


@pytest.fixture(scope="module")
def setup():
    truth = Truth()
    held_out = Batch(truth.x[2800:])
    gaps = {}
    model = model_with_true_decoder(truth)
    done = 0
    for epochs in (0, 2, 40):
        train_encoder(model, truth, epochs - done)
        done = epochs
        with seeded(2):
            gaps[epochs] = amortization_gap(
                model, [held_out], steps=400, lr=0.1, eval_samples=500, k=300
            ).to_dict()
    return truth, model, held_out, gaps


def test_iwae_matches_exact_log_likelihood_within_standard_error():
    truth = Truth(seed=1, orthogonal=True)
    model = model_with_true_decoder(truth)
    train_encoder(model, truth, 40)
    held_out = Batch(truth.x[2800:])
    exact = float(truth.log_px(held_out.x).mean())
    with seeded(3):
        est = log_likelihood(model, [held_out], k=1000)
    assert abs(est.mean - exact) < 2 * est.se_monte_carlo + 1e-4, (est.mean, exact)


def test_iwae_is_a_tighter_lower_bound_than_the_elbo(setup):
    truth, model, held_out, gaps = setup
    exact = float(truth.log_px(held_out.x).mean())
    with seeded(3):
        est = log_likelihood(model, [held_out], k=1000)
    assert gaps[40]["amortized_elbo"] < est.mean <= exact + 3 * est.se_monte_carlo


def test_amortization_gap_is_non_negative_and_shrinks_with_training(setup):
    _, _, _, gaps = setup
    g = {e: gaps[e]["amortization_gap"] for e in gaps}
    se = {e: gaps[e]["amortization_gap_se"] for e in gaps}
    assert all(g[e] > -3 * se[e] - 1e-3 for e in g), g
    assert g[0] > g[2] > g[40], g
    assert g[40] < 0.05


def test_refinement_reaches_best_mean_field_elbo(setup):
    truth, _, held_out, gaps = setup
    exact = float(truth.log_px(held_out.x).mean())
    optimum = exact - truth.mean_field_gap()
    for e in gaps:  # whatever the encoder, refinement lands on the closed-form optimum
        assert math.isclose(gaps[e]["refined_elbo"], optimum, abs_tol=0.03), (e, gaps[e])
        assert math.isclose(gaps[e]["approximation_gap"], truth.mean_field_gap(), abs_tol=0.03)


def test_the_monte_carlo_error_matches_the_delta_method_and_is_undefined_for_one_draw():
    from biovae.diagnostics.likelihood import LogLikelihoodEstimate, iwae_monte_carlo_se

    log_w = torch.log(torch.tensor([[1.0], [3.0]], dtype=torch.float64))  # w = 1, 3: mean 2
    # normalised weights 0.5, 1.5: sample variance 0.5 over K − 1 = 1, s.e. sqrt(0.5 / 2)
    assert float(iwae_monte_carlo_se(log_w)[0]) == pytest.approx(0.5)
    assert torch.isnan(iwae_monte_carlo_se(log_w[:1])).all()
    one = LogLikelihoodEstimate(1, np.array([-3.0, -4.0]), np.array([np.nan, np.nan]))
    assert one.to_dict()["se_monte_carlo"] is None
