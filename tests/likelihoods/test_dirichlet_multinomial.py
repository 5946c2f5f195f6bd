"""The Dirichlet-multinomial sampler draws from its density where the concentrations are
tiny (rare taxa, a small precision φ): the Dirichlet draws must not underflow."""

from __future__ import annotations

import pytest
import torch

from biovae.likelihoods.base import log_gamma_sample
from biovae.likelihoods.dirichlet_multinomial import DirichletMultinomialDistribution


def test_gamma_draws_in_log_space_have_the_gamma_moments():
    torch.manual_seed(0)
    alpha = torch.tensor([0.3, 2.0, 40.0], dtype=torch.float64).expand(100_000, 3)
    g = log_gamma_sample(alpha).exp()
    assert torch.allclose(g.mean(0), alpha[0], rtol=0.02)
    assert torch.allclose(g.var(0), alpha[0], rtol=0.05)  # Gamma(α, 1): mean = variance = α


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_tiny_concentrations_put_all_reads_on_one_taxon(dtype):
    # α → 0: p ~ Dirichlet(α) sits on a vertex with probability 1 − O(α log n), taxon j's
    # with probability α_j / Σα. torch's Gamma draws floor at 1.2e-38 (float32) or 2.2e-308,
    # so every record came out as equal shares: ≈ 33 reads per taxon
    torch.manual_seed(0)
    alpha = torch.tensor([[1e-4, 1e-4, 2e-4]], dtype=dtype)
    draws = DirichletMultinomialDistribution(alpha, torch.tensor([[100.0]], dtype=dtype))
    x = draws.sample((4000,))[:, 0]
    assert (x.sum(-1) == 100).all()
    assert (x.amax(-1) == 100).double().mean() > 0.99
    share = (x == 100).double().mean(0)
    assert torch.allclose(share, torch.tensor([0.25, 0.25, 0.5], dtype=torch.float64), atol=0.03)


def test_sample_moments_match_the_dirichlet_multinomial():
    torch.manual_seed(1)
    alpha = torch.tensor([[0.01, 0.2, 0.79]])  # precision φ = 1: strongly over-dispersed
    n = 50.0
    x = DirichletMultinomialDistribution(alpha, torch.tensor([[n]])).sample((40_000,))[:, 0]
    p = alpha[0] / alpha.sum()
    var = n * p * (1 - p) * (n + 1.0) / 2.0  # n p (1 − p) (n + φ)/(1 + φ)
    assert torch.allclose(x.mean(0), n * p, rtol=0.05, atol=0.1)
    assert torch.allclose(x.var(0), var, rtol=0.05)
