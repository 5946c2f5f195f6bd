"""The hurdle Dirichlet is a normalised density on its support (rows with at least one
present taxon), and its sampler draws from that same density."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import scipy.special as sps
import torch

from biovae.likelihoods.hurdle_dirichlet import HurdleDirichletDistribution

LOGITS = torch.tensor([[-1.0, 0.5, 0.2]], dtype=torch.float64)
ALPHA = torch.tensor([[2.0, 3.0, 1.5]], dtype=torch.float64)


def _pattern_mass(present: tuple[int, ...]) -> float:
    """∫ p(x) over the rows whose present taxa are ``present``: the Dirichlet part integrates
    to 1 over its simplex, so a midpoint rule on the (|S| − 1)-simplex gives the mass."""
    idx = [j for j, p in enumerate(present) if p]
    dist = HurdleDirichletDistribution(LOGITS, ALPHA)
    if len(idx) == 1:
        return float(dist.log_prob(torch.tensor([present], dtype=torch.float64)).exp())
    m = 400
    grid = (np.arange(m) + 0.5) / m
    if len(idx) == 2:
        shares = np.stack([grid, 1 - grid], 1)
        weight = 1.0 / m
    else:
        a, b = np.meshgrid(grid, grid, indexing="ij")
        keep = (a + b) < 1
        shares = np.stack([a[keep], b[keep], 1 - a[keep] - b[keep]], 1)
        weight = 1.0 / m**2
    x = np.zeros((len(shares), 3))
    x[:, idx] = shares
    n = len(x)
    dist = HurdleDirichletDistribution(LOGITS.expand(n, 3), ALPHA.expand(n, 3))
    return float(dist.log_prob(torch.tensor(x)).exp().sum() * weight)


def test_density_sums_to_one_over_presence_patterns_and_simplices():
    patterns = [p for p in itertools.product((0, 1), repeat=3) if any(p)]
    total = sum(_pattern_mass(p) for p in patterns)
    assert abs(total - 1.0) < 2e-3


def test_a_single_taxon_is_always_present_with_the_whole_share():
    dist = HurdleDirichletDistribution(torch.tensor([[-2.0]]), torch.tensor([[0.7]]))
    assert abs(float(dist.log_prob(torch.tensor([[1.0]])))) < 1e-6


def test_sampled_presence_patterns_follow_the_density():
    torch.manual_seed(0)
    logits = torch.tensor([[-1.5, -0.5, -2.0]])
    dist = HurdleDirichletDistribution(logits, torch.ones(1, 3))
    draws = dist.sample((40_000,))[:, 0] > 0
    pi = torch.sigmoid(logits[0]).double()
    nonempty = 1 - torch.prod(1 - pi)
    for pattern in itertools.product((0, 1), repeat=3):
        if not any(pattern):
            continue
        p = torch.tensor(pattern, dtype=torch.bool)
        expected = float(torch.where(p, pi, 1 - pi).prod() / nonempty)
        observed = float((draws == p).all(-1).double().mean())
        assert abs(observed - expected) < 4 * np.sqrt(expected * (1 - expected) / 40_000)


def test_gradients_stay_finite_when_presence_is_near_certain_or_rare():
    x = torch.tensor([[0.0, 0.2, 0.8, 0.0], [1e-6, 0.0, 0.0, 0.999999]])
    for level in (-200.0, -20.0, -5.0, 0.0, 20.0, 200.0):
        logits = torch.full((2, 4), level, requires_grad=True)
        alpha = torch.full((2, 4), 0.5, requires_grad=True)
        HurdleDirichletDistribution(logits, alpha).log_prob(x).sum().backward()
        assert torch.isfinite(logits.grad).all() and torch.isfinite(alpha.grad).all(), level


def test_present_taxa_at_the_smallest_concentration_share_like_a_dirichlet():
    # Dirichlet(1e-4, …) puts nearly all of a record on one present taxon; torch's Gamma draws
    # underflowed to the same floor and every record came out as equal shares of 0.25
    torch.manual_seed(1)
    dist = HurdleDirichletDistribution(torch.full((1, 4), 30.0), torch.full((1, 4), 1e-4))
    draws = dist.sample((2000,))[:, 0]
    assert torch.allclose(draws.sum(-1), torch.ones(2000))
    assert (draws.amax(-1) > 0.99).float().mean() > 0.99


def test_present_taxa_with_small_concentrations_stay_present_in_float32_samples():
    # a share exp(log U / α) of a present taxon with α = 0.01 is below float32's range about
    # a quarter of the time; it rounded to 0, and the taxon was sampled present 42 % of the
    # time instead of π / (1 − Π(1 − π)) = 57 %
    torch.manual_seed(2)
    dist = HurdleDirichletDistribution(torch.zeros(1, 3), torch.tensor([[0.01, 1.0, 1.0]]))
    draws = dist.sample((20_000,))[:, 0]
    assert torch.allclose(draws.sum(-1), torch.ones(20_000))
    expected = 0.5 / (1 - 0.5**3)
    observed = float((draws[:, 0] > 0).double().mean())
    assert abs(observed - expected) < 4 * np.sqrt(expected * (1 - expected) / 20_000)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_records_with_every_presence_rare_keep_their_log_prob_and_gradient(dtype):
    # log(1 − Π(1 − π)) was clamped at log(1e-30) = −69 nats: with every presence logit near
    # −80 a record with one present taxon scored 9 nats too low (29 at −100, 129 at −200);
    # in truth only the present taxon's share of Σ π matters, log π_j − log Σ_i π_i
    shift = torch.tensor([[0.0, -1.0, 1.0, 0.0]], dtype=torch.float64)
    x = torch.tensor([[0.0, 0.0, 1.0, 0.0]], dtype=dtype)
    for level in (-5.0, -40.0, -80.0, -100.0, -200.0):
        logits = level + shift
        pi = sps.expit(logits.numpy()[0])
        ref = (
            np.log(pi[2]) + np.log1p(-pi[[0, 1, 3]]).sum() - np.log(-np.expm1(np.log1p(-pi).sum()))
        )
        dist = HurdleDirichletDistribution(logits.to(dtype), torch.ones(1, 4, dtype=dtype))
        assert float(dist.log_prob(x)) == pytest.approx(ref, abs=1e-5), level
    logits = (-80.0 + shift).requires_grad_()
    alpha = torch.ones(1, 4, dtype=torch.float64)
    x = x.double()
    assert torch.autograd.gradcheck(
        lambda g: HurdleDirichletDistribution(g, alpha).log_prob(x), (logits,)
    )


def _mean_by_enumeration(logits: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """E[x] = Σ_S P(S | S ≠ ∅) · α_j / Σ_{i∈S} α_i [j ∈ S], summed over all 2^f presence sets
    (the Dirichlet mean given S)."""
    pi = sps.expit(logits)
    out, nonempty = np.zeros(len(pi)), 0.0
    for pattern in itertools.product((False, True), repeat=len(pi)):
        s = np.array(pattern)
        if not s.any():
            continue
        p = np.prod(np.where(s, pi, 1 - pi))
        nonempty += p
        out += p * np.where(s, alpha / alpha[s].sum(), 0.0)
    return out / nonempty


def test_mean_of_two_taxa_is_the_hand_computed_expectation():
    # π = (½, ½): S = {1}, {2}, {1, 2} each with probability ⅓ given S ≠ ∅; x_1 = 1, 0 and
    # 1/101. π_j α_j / Σ π_i α_i (the former mean) gave 0.0099 for E[x_1], not 0.337
    dist = HurdleDirichletDistribution(
        torch.zeros(1, 2, dtype=torch.float64), torch.tensor([[1.0, 100.0]], dtype=torch.float64)
    )
    expected = [1 / 3 + 1 / 3 / 101, 1 / 3 + 1 / 3 * 100 / 101]
    np.testing.assert_allclose(dist.mean[0].numpy(), expected, rtol=1e-7)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_mean_matches_enumeration_of_presence_sets(dtype):
    gen = np.random.default_rng(3)
    logits = gen.normal(0.0, 3.0, (2, 5, 6))  # (latent draws, records, taxa)
    logits[0, 0] = -60.0  # every taxon rare
    logits[0, 1, :3] = 40.0  # some taxa certain
    alpha = np.exp(gen.normal(0.0, 3.0, (2, 5, 6)))  # α over orders of magnitude
    alpha[1, 0] = [1e-4, 1e-4, 1e4, 1.0, 0.5, 3.0]
    dist = HurdleDirichletDistribution(
        torch.tensor(logits, dtype=dtype), torch.tensor(alpha, dtype=dtype)
    )
    mean = dist.mean
    assert mean.dtype == dtype and mean.shape == (2, 5, 6)
    ref = np.array(
        [[_mean_by_enumeration(g, a) for g, a in zip(*pair)] for pair in zip(logits, alpha)]
    )
    np.testing.assert_allclose(
        mean.double().numpy(), ref, rtol=1e-6 if dtype == torch.float64 else 2e-6
    )


def test_mean_is_the_average_of_samples():
    torch.manual_seed(4)
    dist = HurdleDirichletDistribution(
        torch.tensor([[0.3, -1.2, 2.0]], dtype=torch.float64),
        torch.tensor([[0.7, 2.5, 1.3]], dtype=torch.float64),
    )
    draws = dist.sample((100_000,))[:, 0]
    se = draws.std(0) / np.sqrt(len(draws))
    assert ((draws.mean(0) - dist.mean[0]).abs() < 4 * se).all()


@pytest.mark.parametrize(
    ("row", "total", "fix"),
    [
        ([0.504, 0.3, 0.2], "1.004", "proportions rounded to a few decimals; close each record"),
        ([50.0, 30.0, 20.0], "100", "divide percentages by 100"),
        ([0.0, 0.0, 0.0], "0", "drop records without any abundance"),
        ([9000.0, 3000.0, 0.0], "12000", "look like read counts, not shares; fit counts"),
    ],
)
def test_a_row_outside_the_simplex_gets_the_fix_for_its_sum(row, total, fix):
    """Proportions rounded to 3 decimals (22 of the 551 CRC records sum above 1.001) were
    told to divide percentages by 100."""
    from biovae.likelihoods.hurdle_dirichlet import check_row_sums

    x = np.array([[0.5, 0.3, 0.2], row], dtype=np.float32)
    bad = check_row_sums(x)
    assert bad is not None and bad.row == 1
    assert f"sums to {total} instead of 1" in bad.problem and fix in bad.fix
    assert "percentages" not in bad.fix or total == "100"
