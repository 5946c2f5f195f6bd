"""Posterior predictive checks against known truths: a well-specified model passes, a Poisson
model of zero-inflated or overdispersed counts is flagged with the remedy."""

from __future__ import annotations

import numpy as np
import pytest

import biovae
from biovae.config import FitConfig, ModelConfig, NetworkConfig, TrainConfig
from biovae.diagnostics.predictive import StatisticCheck, posterior_predictive
from biovae.training import seeded

N, G = 600, 40


@pytest.fixture(scope="module")
def counts():
    rng = np.random.default_rng(0)
    mu = rng.gamma(2.0, 1.5, G) * rng.lognormal(0, 0.3, N)[:, None]
    poisson = rng.poisson(mu).astype(np.float32)
    return {
        "poisson": poisson,
        "zero_inflated": poisson * (rng.random((N, G)) > 0.4),
        "overdispersed": rng.poisson(rng.gamma(0.5, mu / 0.5)).astype(np.float32),
    }


def _check(x: np.ndarray, likelihood: str, epochs: int, n_latent: int = 2):
    cfg = FitConfig(
        model=ModelConfig(n_latent=n_latent, network=NetworkConfig(hidden=(16,))),
        train=TrainConfig(epochs=epochs, batch_size=64, seed=0),
    )
    est = biovae.VAE(likelihood=likelihood, config=cfg).fit(x)
    with seeded(0):
        return posterior_predictive(est.model_, est.batches(x), 30)


def test_statistic_check_counts_features_outside_by_hand():
    replicated = np.tile(np.arange(1.0, 41.0)[:, None], (1, 3))  # 40 replicates 1..40
    check = StatisticCheck(np.array([0.5, 20.0, 41.0]), replicated)
    np.testing.assert_array_equal(check.outside, [True, False, True])
    np.testing.assert_array_equal(check.above, [False, False, True])
    np.testing.assert_array_equal(check.below, [True, False, False])
    # replicated mean 20.5 everywhere: observed 0.5, 20, 41 → −97.6 %, −2.4 %, +100 %
    assert check.relative_difference == pytest.approx(20.0 / 20.5 - 1)
    # a statistic below every replicate on most features: the dispersion advice
    from biovae.diagnostics.predictive import PredictiveCheck

    low = StatisticCheck(np.zeros(3), replicated)
    verdict = PredictiveCheck({"sd": low}, 40).verdict()
    assert "vary less than the model predicts" in verdict


def test_well_specified_models_pass(counts):
    # well specified includes the latent: the data vary by one cell factor. A second latent
    # dimension soaks up part of the NB noise, the fitted θ comes out too large (0.61 against
    # 0.5) and 25–30 % of the genes then show more zeros than the replicates' central 95 %
    # (torch 2.13 / 2.2), against 5–7.5 % with one dimension
    for data, likelihood, epochs in (("poisson", "poisson", 40), ("overdispersed", "nb", 300)):
        check = _check(counts[data], likelihood, epochs, n_latent=1)
        shares = {k: c.outside.mean() for k, c in check.checks.items()}
        assert set(shares) == {"mean", "sd", "zero_fraction"}
        assert max(shares.values()) <= 0.25, (data, shares)
        assert check.verdict().startswith("The posterior predictive distribution reproduces")


@pytest.mark.parametrize("data", ["zero_inflated", "overdispersed"])
def test_poisson_model_of_extra_zeros_or_spread_is_flagged(counts, data):
    check = _check(counts[data], "poisson", 40)
    assert check.checks["zero_fraction"].above.mean() > 0.9
    assert check.checks["sd"].above.mean() > 0.9
    assert "overdispersed (nb) or zero-inflated (zinb)" in check.verdict()


def test_continuous_data_without_zeros_have_no_zero_statistic():
    x = np.random.default_rng(1).normal(5, 1, (200, 6)).astype(np.float32)
    est = biovae.VAE("gaussian", n_latent=2, hidden=(8,), epochs=5).fit(x)
    with seeded(0):
        check = posterior_predictive(est.model_, est.batches(x), 5)
    assert set(check.checks) == {"mean", "sd"} and check.n_replicates == 5
    d = check.to_dict()
    assert len(d["statistics"]["mean"]["observed"]) == 6
    assert len(d["statistics"]["sd"]["outside"]) == 6


def test_relative_abundances_are_checked_on_the_scale_the_model_samples():
    rng = np.random.default_rng(3)
    shares = rng.dirichlet(np.full(12, 0.5), size=80) * (rng.random((80, 12)) > 0.3)
    shares = shares / shares.sum(1, keepdims=True)
    x = (shares * rng.uniform(0.2, 1.0, (80, 1))).astype(np.float32)  # rows sum below 1
    check = _check(x, "hurdle_dirichlet", 2)
    # the observed means are of the closed rows, which the density scores (as the samples)
    np.testing.assert_allclose(check.checks["mean"].observed, shares.mean(0), rtol=1e-4)
