"""Fast ψ and the fused NB log-density against torch's exact functions (float64 reference)."""

from __future__ import annotations

import pytest
import torch
from torch.distributions import NegativeBinomial

from biovae.likelihoods.special import digamma, log_factorial, nb_log_prob, nb_logits_log_prob


def _arguments() -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    return torch.cat(
        [
            torch.rand(2000, generator=g) * 1e-3 + 1e-7,  # θ near its clamp e^-15
            torch.rand(2000, generator=g) * 10,  # small counts, the recurrence matters
            torch.rand(2000, generator=g) * 1e5 + 8,  # large counts
            torch.tensor([3.3e6, 1e8, 7.999, 8.0, 1.0, 0.5]),
        ]
    )


def test_digamma_float32_matches_float64_reference():
    z = _arguments()
    reference = torch.digamma(z.double())
    error = (digamma(z.float()).double() - reference).abs() / reference.abs().clamp_min(1.0)
    assert error.max() < 2e-6
    # the known value ψ(1) = −γ
    assert digamma(torch.tensor([1.0])).item() == pytest.approx(-0.5772156649, abs=1e-6)


def test_digamma_float32_is_finite_up_to_its_stated_range():
    # the docstring says 0 < z < 4e9; 3u² + 20u + 24 (u = z(z+5)) overflowed float32 from
    # z ≈ 3.26e9, and ψ came out −∞ (an NB θ gradient at x + θ beyond it too)
    z = torch.tensor([1e9, 3.2e9, 3.3e9, 3.9e9])
    reference = torch.digamma(z.double())
    assert torch.allclose(digamma(z).double(), reference, rtol=1e-6, atol=0.0)


def test_digamma_other_dtypes_are_torch_exact():
    z = _arguments().double()
    assert torch.equal(digamma(z), torch.digamma(z))


def _nb_inputs(theta_shape):
    g = torch.Generator().manual_seed(1)
    x = torch.poisson(torch.rand(6, 9, generator=g, dtype=torch.float64) * 20)
    mu = (torch.rand(6, 9, generator=g, dtype=torch.float64) * 15 + 0.05).requires_grad_()
    theta = torch.rand(theta_shape, generator=g, dtype=torch.float64) * 8 + 0.05
    return x, mu, theta.requires_grad_()


@pytest.mark.parametrize("theta_shape", [(9,), (6, 9)])
def test_nb_log_prob_matches_torch_negative_binomial(theta_shape):
    x, mu, theta = _nb_inputs(theta_shape)
    # torch's NB counts failures with success probability p: mean = r p/(1-p), r = θ, p = μ/(μ+θ)
    reference = NegativeBinomial(total_count=theta, logits=torch.log(mu) - torch.log(theta))
    assert torch.allclose(nb_log_prob(x, mu, theta), reference.log_prob(x), atol=1e-10)


@pytest.mark.parametrize("theta_shape", [(9,), (6, 9)])
def test_nb_log_prob_gradients_pass_gradcheck(theta_shape):
    x, mu, theta = _nb_inputs(theta_shape)
    assert torch.autograd.gradcheck(lambda m, t: nb_log_prob(x, m, t), (mu, theta))


def test_nb_log_prob_broadcasts_over_latent_samples():
    x, mu, theta = _nb_inputs((9,))
    mu3 = mu.detach().expand(4, 6, 9).clone().requires_grad_()
    out = nb_log_prob(x, mu3, theta)
    assert out.shape == (4, 6, 9)
    out.sum().backward()
    assert theta.grad.shape == (9,) and mu3.grad.shape == (4, 6, 9)


def test_nb_log_prob_float32_gradients_close_to_float64():
    x, mu, theta = _nb_inputs((9,))
    nb_log_prob(x, mu, theta).sum().backward()
    mu32 = mu.detach().float().requires_grad_()
    theta32 = theta.detach().float().requires_grad_()
    nb_log_prob(x.float(), mu32, theta32).sum().backward()
    assert torch.allclose(mu32.grad.double(), mu.grad, rtol=1e-4, atol=1e-4)
    assert torch.allclose(theta32.grad.double(), theta.grad, rtol=1e-4, atol=1e-3)


def _logits_inputs(theta_shape):
    g = torch.Generator().manual_seed(2)
    x = torch.poisson(torch.rand(6, 9, generator=g, dtype=torch.float64) * 20)
    rho = (torch.randn(6, 9, generator=g, dtype=torch.float64) * 2).requires_grad_()
    log_lib = (torch.rand(6, 1, generator=g, dtype=torch.float64) * 3 + 2).requires_grad_()
    theta = torch.rand(theta_shape, generator=g, dtype=torch.float64) * 8 + 0.05
    return x, rho, log_lib, theta.requires_grad_()


@pytest.mark.parametrize("theta_shape", [(9,), (6, 9)])
def test_nb_logits_log_prob_matches_torch_negative_binomial(theta_shape):
    x, rho, log_lib, theta = _logits_inputs(theta_shape)
    mu = torch.exp(log_lib) * torch.softmax(rho, -1)
    reference = NegativeBinomial(total_count=theta, logits=torch.log(mu) - torch.log(theta))
    out = nb_logits_log_prob(x, rho, log_lib, theta)
    assert torch.allclose(out, reference.log_prob(x), atol=1e-10)


@pytest.mark.parametrize("theta_shape", [(9,), (6, 9)])
def test_nb_logits_log_prob_gradients_pass_gradcheck(theta_shape):
    x, rho, log_lib, theta = _logits_inputs(theta_shape)
    weights = torch.rand(6, 9, dtype=torch.float64)  # a non-uniform incoming gradient
    assert torch.autograd.gradcheck(
        lambda r, ll, t: nb_logits_log_prob(x, r, ll, t) * weights, (rho, log_lib, theta)
    )


def test_nb_logits_log_prob_broadcasts_over_latent_samples():
    x, rho, log_lib, theta = _logits_inputs((9,))
    rho3 = (rho.detach() + torch.randn(4, 6, 9, dtype=torch.float64)).requires_grad_()
    out = nb_logits_log_prob(x, rho3, log_lib.detach(), theta)
    assert out.shape == (4, 6, 9)
    mu3 = (torch.exp(log_lib) * torch.softmax(rho3, -1)).detach()
    assert torch.allclose(out, nb_log_prob(x, mu3, theta.detach()), atol=1e-10)
    out.sum().backward()
    assert theta.grad.shape == (9,) and rho3.grad.shape == (4, 6, 9)


def test_nb_logits_log_prob_stays_finite_where_mu_underflows():
    # a logit 200 below the others gives μ = 0 in float32; the old μ-based path needed a clamp
    x = torch.tensor([[3.0, 0.0, 2.0]])
    rho = torch.tensor([[0.0, -200.0, 0.0]], requires_grad=True)
    out = nb_logits_log_prob(x, rho, torch.tensor([[1.5]]), torch.ones(3))
    out.sum().backward()
    assert torch.isfinite(out).all() and torch.isfinite(rho.grad).all()


def test_log_factorial_table_and_fallbacks():
    k = torch.tensor([0.0, 1.0, 2.0, 10.0, 170.0, 65535.0])
    exact = torch.lgamma(k.double() + 1)
    assert torch.allclose(log_factorial(k).double(), exact, rtol=1e-7)
    # non-integers, negatives and values past the table take lgamma(x + 1)
    for x in (torch.tensor([0.5, 3.0]), torch.tensor([-0.5, 3.0]), torch.tensor([3.0, 7e4])):
        assert torch.equal(log_factorial(x), torch.lgamma(x + 1))
    assert log_factorial(torch.zeros(0, 3)).shape == (0, 3)
    assert torch.equal(log_factorial(k.double()), torch.lgamma(k.double() + 1))


@pytest.mark.parametrize("log_theta", [7.0, 9.0, 12.0, 15.0])
def test_nb_float32_at_large_dispersion_matches_float64(log_theta):
    # Poisson-like genes: θ ≫ μ; the terms in θ are ≈ θ log θ and cancel to a few nats, so
    # float32 sums of them were off by up to 4 nats per entry and the log θ gradient was noise
    # (ground truth: the same formula in float64, checked against torch's NB above)
    g = torch.Generator().manual_seed(3)
    x = torch.poisson(torch.rand(64, 50, generator=g, dtype=torch.float64) * 6)
    rho = torch.randn(64, 50, generator=g, dtype=torch.float64)
    log_lib = torch.full((64, 1), float(torch.log(torch.tensor(150.0))), dtype=torch.float64)
    log_t = torch.full((50,), log_theta, dtype=torch.float64)
    (out32, grad32), (out64, grad64), allowed = in_both_precisions(x, rho, log_lib, log_t)
    assert (out32 - out64).abs().max() < 1e-4
    assert ((grad32 - grad64).abs() <= 1e-3 * grad64.abs() + allowed).all()


def in_both_precisions(x, rho, log_lib, log_t, device="cpu"):
    """log NB and its gradient to log θ in float32 and in float64 (as float64), from the same
    inputs (rounded to float32 first), and the error the comparison must allow the gradient.

    The gradient of a Poisson-like gene is ≈ θ Σ_records [ψ(x+θ) − ψ(θ) − log(1 + μ/θ) − …],
    six terms of size ≈ log θ that cancel to ≈ 1/θ², so even float64 holds each record's term
    only to ≈ 12 ε₆₄ (log θ + 1): the reference itself is that uncertain (10⁻⁷ of a 10⁻⁴
    gradient at the clamp θ = e¹⁵). And the sum over records cancels (E[(x−μ)² − x] = 0), so
    float32's rounding of each record's lse (4 ulps, a sign of its own) moves it too, by an
    amount that differs between CPUs and torch builds: the allowance adds both. The float32
    evaluation runs on ``device``."""
    x, rho, log_lib, log_t = (t.float().double() for t in (x, rho, log_lib, log_t))

    def run(dtype, lib=log_lib, device="cpu"):
        lt = log_t.detach().to(device, dtype).requires_grad_()
        args = (t.to(device, dtype) for t in (x, rho, lib))
        value = nb_logits_log_prob(*args, torch.exp(lt))
        value.sum().backward()
        return value.detach().double().cpu(), lt.grad.double().cpu()

    exact = run(torch.float64)
    ulps = 4 * torch.finfo(torch.float32).eps * torch.logsumexp(rho, -1).abs().max()
    spread = torch.zeros_like(exact[1])
    for i in range(len(x)):
        lib = log_lib.clone()
        lib[i] += ulps
        spread += (run(torch.float64, lib)[1] - exact[1]).abs()
    records = x.numel() // max(log_t.numel(), 1)  # terms summed into each gradient entry
    own = 12 * torch.finfo(torch.float64).eps * records * (log_t + 1) * torch.exp(log_t)
    return run(torch.float32, device=device), exact, spread + own


def poisson_like_case(theta_shape):
    """Counts, ρ, log ℓ and log θ with every 7th gene's θ = e¹² (all of them for a scalar θ)."""
    g = torch.Generator().manual_seed(4)
    x = torch.poisson(torch.rand(64, 50, generator=g, dtype=torch.float64) * 6)
    rho = torch.randn(64, 50, generator=g, dtype=torch.float64)
    log_lib = torch.full((64, 1), 5.0, dtype=torch.float64)
    log_t = torch.rand(theta_shape, generator=g, dtype=torch.float64) * 2
    if theta_shape:
        log_t[..., ::7] = 12.0  # every 7th gene Poisson-like
    else:
        log_t = log_t + 12.0
    return x, rho, log_lib, log_t


@pytest.mark.parametrize("theta_shape", [(50,), (64, 50), ()])
def test_nb_float32_with_some_poisson_like_genes_matches_float64(theta_shape):
    # only the columns with θ > e⁶ are recomputed in float64; the others keep the fast kernel
    x, rho, log_lib, log_t = poisson_like_case(theta_shape)
    (out32, grad32), (out64, grad64), allowed = in_both_precisions(x, rho, log_lib, log_t)
    assert (out32 - out64).abs().max() < 1e-4
    big = torch.exp(log_t) > 403  # the recomputed columns: gradients ≈ 1/θ, exact
    assert ((grad32 - grad64).abs() <= 1e-3 * grad64.abs() + allowed)[big].all()
    assert torch.allclose(grad32, grad64, rtol=1e-3, atol=1e-5)


@pytest.mark.parametrize("theta_shape", [(20,), ()])
def test_nb_float32_at_bulk_counts_matches_float64(theta_shape):
    # 10⁴–10⁷ counts (bulk RNA-seq): log Γ(x+θ), log x! and (x+θ) log(θ+μ) are ≈ x log x and
    # cancel to a few nats; float32 sums of them were off by 1–10 nats per entry at 10⁶–10⁷
    # (a positive log-pmf), so genes with such counts are recomputed in float64
    g = torch.Generator().manual_seed(7)
    rho = torch.randn(8, 20, generator=g, dtype=torch.float64) + torch.linspace(0, 9, 20)
    log_lib = torch.log(torch.tensor([[3e7], [5e7], [1e8], [2e7], [6e7], [8e7], [4e7], [9e7]]))
    mu = torch.exp(torch.log_softmax(rho, -1) + log_lib.double())
    x = torch.round(mu * torch.exp(0.3 * torch.randn(8, 20, generator=g, dtype=torch.float64)))
    log_t = torch.rand(theta_shape, generator=g, dtype=torch.float64) * 4 - 1
    assert x.max() > 1e7 and (x < 1e3).any()  # large and ordinary counts side by side
    (out32, _), (out64, _), _ = in_both_precisions(x, rho, log_lib.double(), log_t)
    assert (out32 <= 0).all()
    assert ((out32 - out64).abs() <= 2e-3 + 1e-6 * out64.abs()).all()
    mu32 = torch.exp(torch.log_softmax(rho.float(), -1) + log_lib.float())
    via_mu = nb_log_prob(x.float(), mu32, torch.exp(log_t.float())).double()
    assert ((via_mu - out64).abs() <= 1e-2 + 1e-6 * out64.abs()).all()
