"""The compiled NB kernels (torch.compile of the series forms) against float64 ground truth,
when they switch on, and the eager fallback when compiling fails."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from biovae.config import FitConfig, LikelihoodConfig, ModelConfig, TrainConfig
from biovae.estimator import VAE
from biovae.likelihoods import fused, special


def test_lgamma_series_matches_float64_reference():
    g = torch.Generator().manual_seed(0)
    z = torch.cat(
        [
            torch.rand(2000, generator=g) * 1e-3 + 1e-7,
            torch.rand(2000, generator=g) * 10 + 1e-3,
            torch.rand(2000, generator=g) * 1e5 + 8,
            torch.tensor([3.3e6, 1e8, 1.0, 2.0, 0.5]),
        ]
    )
    reference = torch.lgamma(z.double())
    error = (special.lgamma_series(z).double() - reference).abs() / reference.abs().clamp_min(1.0)
    assert error.max() < 3e-6
    assert special.lgamma_series(torch.tensor([1.0, 2.0])).abs().max() < 1e-6  # Γ(1) = Γ(2) = 1


def test_decide():
    assert fused.decide("off", 10**6, 10**6) is None
    assert fused.decide("on", 1, 1) == 0
    steps = -(-fused.MIN_WORK // 256_000)  # 128 × 2,000 batches: about 2,000 steps
    assert fused.decide("auto", steps, 256_000) == fused.MIN_NUMEL
    assert fused.decide("auto", steps - 1, 256_000) is None
    assert fused.decide("auto", 10**9, fused.MIN_NUMEL - 1) is None  # tiny batches: never


def test_active_only_inside_enabled_and_for_float32_cpu():
    x = torch.zeros(4, 8)
    assert not fused.active(x)
    with fused.enabled(0):
        assert fused.active(x) and not fused.active(x.double())
        with fused.enabled(33):
            assert not fused.active(x)  # 32 elements < 33
        assert fused.active(x)
    assert not fused.active(x)


def _inputs(theta_shape, n=64, genes=300, seed=3):
    g = torch.Generator().manual_seed(seed)
    x = torch.poisson(torch.rand(n, genes, generator=g, dtype=torch.float64) * 40)
    x[0, :5] = torch.tensor([0.0, 1.0, 500.0, 3000.0, 70000.0])  # zeros, large, past the table
    rho = torch.randn(n, genes, generator=g, dtype=torch.float64) * 2
    log_lib = torch.rand(n, 1, generator=g, dtype=torch.float64) * 3 + 7
    theta = torch.exp(torch.randn(theta_shape, generator=g, dtype=torch.float64) * 2)
    return x, rho, log_lib, theta


def _value_and_grads(x, rho, log_lib, theta, weights):
    rho, log_lib, theta = (t.clone().requires_grad_() for t in (rho, log_lib, theta))
    out = special.nb_logits_log_prob(x, rho, log_lib, theta)
    (out * weights).sum().backward()
    return out.detach(), rho.grad, log_lib.grad, theta.grad


@pytest.mark.parametrize("theta_shape", [(300,), (64, 300)])
def test_compiled_nb_kernel_matches_float64(theta_shape):
    args64 = _inputs(theta_shape)
    weights = torch.rand(64, 300, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    reference = _value_and_grads(*args64, weights)
    with fused.enabled(0), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # reported below if compiling failed
        got = _value_and_grads(*(a.float() for a in args64), weights.float())
    failure = special._NB_FORWARD.failure or special._NB_BACKWARD.failure
    if failure is not None:  # e.g. a machine without a C++ compiler: the eager path ran
        pytest.skip(f"torch.compile is unavailable here ({failure})")
    value, grad_rho, grad_lib, grad_theta = (g.double() for g in got)
    ref_value, ref_rho, ref_lib, ref_theta = reference
    # float32 can do no better than the rounding of the terms that cancel in log p
    x, rho, log_lib, theta = args64
    log_mu = torch.log_softmax(rho, -1) + log_lib
    xt = x + theta
    terms = (x * log_mu).abs() + (xt * torch.log(torch.exp(log_mu) + theta)).abs()
    terms += torch.lgamma(xt).abs() + torch.lgamma(x + 1) + (theta * torch.log(theta)).abs()
    assert ((value - ref_value).abs() / (terms + 1.0)).max() < 4e-6  # ≈ 32 float32 ulps
    assert torch.allclose(grad_rho, ref_rho, rtol=1e-4, atol=1e-3)
    assert torch.allclose(grad_lib, ref_lib, rtol=1e-4, atol=1e-2)
    assert torch.allclose(grad_theta, ref_theta, rtol=1e-3, atol=1e-3)


def test_compiler_failure_warns_once_and_runs_eager(monkeypatch):
    def broken(fn, **kwargs):
        def call(*args):
            raise RuntimeError("no C++ compiler")

        return call

    kernel = fused.FusedKernel(lambda a: a * 3.0, lambda a: a * 2.0)
    monkeypatch.setattr(torch, "compile", broken)
    with pytest.warns(RuntimeWarning, match="no C\\+\\+ compiler"):
        assert kernel(True, torch.ones(2)).tolist() == [2.0, 2.0]
    assert kernel.failure == "RuntimeError: no C++ compiler"
    assert kernel(True, torch.ones(2)).tolist() == [2.0, 2.0]  # no second compile, no warning
    with pytest.raises(TypeError):  # a wrong input is the caller's error, not a compiler failure
        fused.FusedKernel(broken(None), lambda a: a + "x")(True, torch.ones(2))


def test_fit_with_compiled_kernels_matches_eager_fit():
    rng = np.random.default_rng(0)
    x = rng.poisson(rng.gamma(2.0, 3.0, size=(256, 1)) * rng.dirichlet(np.ones(160)) * 40)
    losses = {}
    for mode in ("off", "on"):
        cfg = FitConfig(
            model=ModelConfig(likelihood=LikelihoodConfig("nb"), n_latent=4),
            train=TrainConfig(epochs=3, batch_size=256, compile=mode, validation_fraction=0.0),
        )
        est = VAE(config=cfg, progress=False).fit(x.astype(np.float32))
        losses[mode] = [row["loss"] for row in est.history_]
    assert np.allclose(losses["on"], losses["off"], rtol=1e-4)
