"""The compiled draw of variational decoder weights against the float64 definitions, and when a
family fit compiles it."""

from __future__ import annotations

import math
import warnings
from dataclasses import replace

import pytest
import torch
from torch.distributions import Normal, kl_divergence

from biovae.applications.variants import model as model_mod
from biovae.applications.variants import train as train_mod
from biovae.applications.variants.config import FamilyModelConfig, FamilyTrainConfig
from biovae.applications.variants.model import FamilyVAE, _VariationalDraw
from biovae.errors import ConfigError
from biovae.likelihoods import fused


def _draw(mu, log_sigma, eps, probe, scale):
    mu, log_sigma = (t.clone().requires_grad_() for t in (mu, log_sigma))
    theta, kl = _VariationalDraw.apply(mu, log_sigma, eps, scale)
    ((theta * probe).sum() + 0.3 * kl).backward()
    return theta.detach(), kl.detach(), mu.grad, log_sigma.grad


def test_compiled_draw_matches_float64_definitions():
    """θ = μ + σε, Σ KL(N(μ, σ²) || N(0, s²)) and their gradients, on a 3-d weight (the
    compiled kernel works on a flat view) of 64 × 50 × 20 values."""
    g = torch.Generator().manual_seed(0)
    shape = (64, 50, 20)
    mu = torch.randn(shape, generator=g, dtype=torch.float64) * 0.05
    log_sigma = torch.randn(shape, generator=g, dtype=torch.float64) * 0.5 - 5
    eps = torch.randn(shape, generator=g, dtype=torch.float64)
    probe = torch.randn(shape, generator=g, dtype=torch.float64)
    m, ls = mu.clone().requires_grad_(), log_sigma.clone().requires_grad_()
    ref_theta = m + ls.exp() * eps
    ref_kl = kl_divergence(Normal(m, ls.exp()), Normal(torch.zeros_like(m), 1.7)).sum()
    ((ref_theta * probe).sum() + 0.3 * ref_kl).backward()
    with fused.enabled(0), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # reported below if compiling failed
        got = _draw(*(t.float() for t in (mu, log_sigma, eps, probe)), 1.7)
    failure = model_mod._DRAW_FORWARD.failure or model_mod._DRAW_BACKWARD.failure
    if failure is not None:  # e.g. a machine without a C++ compiler: the eager path ran
        pytest.skip(f"torch.compile is unavailable here ({failure})")
    theta, kl, d_mu, d_log_sigma = (t.double() for t in got)
    assert theta.shape == shape and d_mu.shape == shape and d_log_sigma.shape == shape
    torch.testing.assert_close(theta, ref_theta.detach(), rtol=1e-6, atol=1e-7)
    # the KL sums 64,000 terms of size ≈ 5 (−ℓ): float32 rounding of the sum, not of each term
    assert kl.item() == pytest.approx(ref_kl.item(), rel=1e-5)
    torch.testing.assert_close(d_mu, m.grad, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(d_log_sigma, ls.grad, rtol=1e-5, atol=1e-6)
    eager = _draw(*(t.float() for t in (mu, log_sigma, eps, probe)), 1.7)  # outside: eager
    torch.testing.assert_close(eager[0], got[0], rtol=1e-6, atol=1e-7)


def _model(bayesian=True, rank=40, length=253, hidden=(100, 500)):
    cfg = FamilyModelConfig(bayesian=bayesian, rank=rank, decoder_hidden=hidden)
    return FamilyVAE(length, 21, cfg)


def test_when_a_family_fit_compiles_the_draw():
    steps_to_pay = math.ceil(train_mod._DRAW_MIN_WORK / (500 * 253 * 40))  # ≈ 600 updates
    big = _model()
    auto = FamilyTrainConfig(steps=steps_to_pay)
    assert train_mod._compile_threshold(big, auto) == fused.MIN_NUMEL
    assert train_mod._compile_threshold(big, replace(auto, steps=steps_to_pay - 1)) is None
    assert train_mod._compile_threshold(big, replace(auto, compile="off")) is None
    assert train_mod._compile_threshold(big, replace(auto, steps=1, compile="on")) == 0
    small = _model(length=10, hidden=(8, 16), rank=4)  # weights below MIN_NUMEL: never auto
    assert train_mod._compile_threshold(small, replace(auto, steps=10**9)) is None
    assert train_mod._compile_threshold(_model(bayesian=False), replace(auto, compile="on")) is None
    with pytest.raises(ConfigError, match=r"train\.compile"):
        FamilyTrainConfig(compile="always")


def test_variational_fit_with_compiled_draws_matches_eager_fit():
    from biovae.applications.variants.alignment import read_alignment
    from biovae.applications.variants.weights import sequence_weights
    from tests.applications.variants.test_family import SMALL
    from tests.conftest import FIXTURES

    aln = read_alignment(FIXTURES / "blat_ecolx_first40.a2m")
    w = sequence_weights(aln.codes, aln.gap, len(aln.alphabet))
    model_cfg = replace(SMALL.model, bayesian=True)
    fits = {}
    for mode in ("off", "on"):
        cfg = replace(SMALL.train, steps=100, validation_fraction=0.0, compile=mode)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            fits[mode] = train_mod.fit_family(aln.codes, w, len(aln.alphabet), model_cfg, cfg)
    if model_mod._DRAW_FORWARD.failure is not None:
        pytest.skip(f"torch.compile is unavailable here ({model_mod._DRAW_FORWARD.failure})")
    (eager, h_eager), (compiled, h_compiled) = fits["off"], fits["on"]
    elbo = [[h["elbo"] for h in history if "elbo" in h] for history in (h_eager, h_compiled)]
    assert len(elbo[0]) == 1 and elbo[0] == pytest.approx(elbo[1], rel=1e-4)
    for (name, a), (_, b) in zip(
        eager.named_parameters(), compiled.named_parameters(), strict=True
    ):
        torch.testing.assert_close(a, b, rtol=1e-3, atol=1e-4, msg=name)
