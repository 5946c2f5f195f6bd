"""Every registered likelihood on a CUDA GPU: in float64 the log-density, its gradients and the
mean equal the CPU's (themselves checked against scipy in test_conformance), samples stay on
the GPU and in the support, and the float32 paths that recompute in float64 (NB / ZINB genes at
large dispersion, the Dirichlet-multinomial at metagenome depths) keep their accuracy there.
Skipped without a GPU; run on the lent device machine."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tests.likelihoods.test_conformance import (
    REFERENCES,
    F,
    N,
    context_for,
    data_for,
    make,
    random_params,
    ref_dirichlet_multinomial,
)
from tests.likelihoods.test_special import in_both_precisions, poisson_like_case

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


def _on(values: dict, device: str) -> dict:
    return {k: v.to(device) for k, v in values.items()}


def _evaluate(lik, params: dict, ctx: dict, x: torch.Tensor):
    """log_prob, the gradient of its sum to every parameter, and the mean (all on the CPU)."""
    params = {k: v.detach().clone().requires_grad_() for k, v in params.items()}
    dist = lik.distribution(params, ctx)
    value = dist.log_prob(x)
    value.sum().backward()
    grads = {k: v.grad.cpu() for k, v in params.items()}
    with torch.no_grad():
        mean = lik.distribution(params, ctx).mean.cpu()
    return value.detach().cpu(), grads, mean


@pytest.mark.parametrize("name", sorted(REFERENCES))
def test_float64_on_cuda_equals_the_cpu(name):
    gen = torch.Generator().manual_seed(11)
    lik = make(name)
    params, ctx = random_params(lik, gen), context_for(lik, gen)
    x = data_for(lik, lik.distribution(params, ctx), gen)
    cpu = _evaluate(lik, params, ctx, x)
    gpu = _evaluate(lik, _on(params, "cuda"), _on(ctx, "cuda"), x.cuda())
    torch.testing.assert_close(gpu[0], cpu[0], rtol=1e-9, atol=1e-9)
    for key in cpu[1]:
        torch.testing.assert_close(gpu[1][key], cpu[1][key], rtol=1e-7, atol=1e-9, msg=key)
    # a categorical's mean is NaN (torch's convention) on both
    torch.testing.assert_close(gpu[2], cpu[2], rtol=1e-9, atol=1e-9, equal_nan=True)


@pytest.mark.parametrize("name", sorted(REFERENCES))
def test_samples_on_cuda_stay_there_and_in_the_support(name):
    gen = torch.Generator().manual_seed(12)
    lik = make(name)
    params, ctx = random_params(lik, gen), context_for(lik, gen)
    dist = lik.distribution(_on(params, "cuda"), _on(ctx, "cuda"))
    torch.manual_seed(0)
    x = dist.sample()
    assert x.device.type == "cuda"
    assert lik.validate(x.cpu().numpy()) is None
    assert torch.isfinite(dist.log_prob(x)).all()


@pytest.mark.parametrize("theta_shape", [(50,), (64, 50), ()])
def test_nb_float32_on_cuda_with_poisson_like_genes_matches_float64(theta_shape):
    # the genes with θ > e⁶ are recomputed in float64 on the GPU as on the CPU
    x, rho, log_lib, log_t = poisson_like_case(theta_shape)
    result = in_both_precisions(x, rho, log_lib, log_t, device="cuda")
    (out32, grad32), (out64, grad64), allowed = result
    assert (out32 - out64).abs().max() < 1e-4
    big = torch.exp(log_t) > 403  # the recomputed columns
    assert ((grad32 - grad64).abs() <= 1e-3 * grad64.abs() + allowed)[big].all()
    assert torch.allclose(grad32, grad64, rtol=1e-3, atol=1e-5)


def test_dirichlet_multinomial_float32_on_cuda_at_metagenome_depths_matches_scipy():
    lik = make("dirichlet_multinomial")
    gen = torch.Generator().manual_seed(5)
    p = random_params(lik, gen)
    shares = torch.softmax(torch.randn(N, F, generator=gen, dtype=torch.float64), -1)
    depth = torch.tensor([1e6, 3e6, 1e7, 2e6, 5e6, 8e6, 4e6])[:N, None]
    x = torch.round(shares * depth)
    ref = ref_dirichlet_multinomial(x.numpy(), {k: v.numpy() for k, v in p.items()}, None)
    xc = x.float().cuda()
    out = lik.distribution(_on({k: v.float() for k, v in p.items()}, "cuda"), lik.context(xc))
    got = out.log_prob(xc)
    assert got.dtype == torch.float32 and got.device.type == "cuda"
    np.testing.assert_allclose(got.double().cpu().numpy(), ref, rtol=1e-6, atol=1e-3)
