"""Registry-wide conformance: every registered likelihood is checked for shapes, support,
log_prob against scipy / closed forms, and gradients. A new likelihood must add a reference
here (the completeness test fails otherwise)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.special as sps
import scipy.stats as st
import torch

from biovae import likelihoods
from biovae.config import LikelihoodConfig
from biovae.errors import ConfigError

N, F, L, A = 7, 5, 4, 3


def _softmax(a):
    return sps.softmax(a, axis=-1)


def _softplus(a):
    return np.logaddexp(0, a) + 1e-4


def ref_gaussian(x, p, ctx):
    return st.norm.logpdf(x, p["loc"], _softplus(p["scale"])).sum(-1)


def ref_bernoulli(x, p, ctx):
    return st.bernoulli.logpmf(x, sps.expit(p["logits"])).sum(-1)


def ref_categorical(x, p, ctx):
    logp = np.log(_softmax(p["logits"]))
    return np.take_along_axis(logp, x[..., None].astype(int), -1)[..., 0].sum(-1)


def _mu(p, ctx):
    return ctx["library"] * _softmax(p["rho"])


def ref_poisson(x, p, ctx):
    return st.poisson.logpmf(x, _mu(p, ctx)).sum(-1)


def ref_nb(x, p, ctx):
    mu, theta = _mu(p, ctx), np.exp(p["log_theta"])
    return st.nbinom.logpmf(x, theta, theta / (theta + mu)).sum(-1)


def ref_zinb(x, p, ctx):
    mu, theta = _mu(p, ctx), np.exp(p["log_theta"])
    pi = sps.expit(p["pi_logits"])
    nb = st.nbinom.pmf(x, theta, theta / (theta + mu))
    return np.log(np.where(x == 0, pi + (1 - pi) * nb, (1 - pi) * nb)).sum(-1)


def ref_dirichlet_multinomial(x, p, ctx):
    alpha = _softplus(p["precision"]) * _softmax(p["rho"])
    n = x.sum(-1).astype(int)
    if not hasattr(st, "dirichlet_multinomial"):  # scipy < 1.11 (pyproject allows 1.10)
        return _dirichlet_multinomial_closed_form(x, alpha)
    return np.array([st.dirichlet_multinomial.logpmf(x[i], alpha[i], n[i]) for i in range(len(x))])


def _dirichlet_multinomial_closed_form(x, alpha):
    """log DM(x; α) = log n! + log Γ(A) − log Γ(n + A) + Σ_j [log Γ(x_j + α_j) − log Γ(α_j) −
    log x_j!] with n = Σ x, A = Σ α (scipy's own formula, for a scipy without it)."""
    n, a = x.sum(-1), alpha.sum(-1)
    per = sps.gammaln(x + alpha) - sps.gammaln(alpha) - sps.gammaln(x + 1)
    return sps.gammaln(n + 1) + sps.gammaln(a) - sps.gammaln(n + a) + per.sum(-1)


def ref_hurdle_dirichlet(x, p, ctx):
    pi, alpha = sps.expit(p["presence_logits"]), _softplus(p["log_concentration"])
    out = []
    for i in range(len(x)):
        present = x[i] > 0
        lp = st.bernoulli.logpmf(present, pi[i]).sum() - np.log1p(-np.prod(1 - pi[i]))
        if present.sum() > 1:
            y = x[i][present] / x[i][present].sum()
            lp += st.dirichlet.logpdf(y, alpha[i][present])
        out.append(lp)
    return np.array(out)


def _bond_sweep_loops(y, length):
    for parity in (0, 1):
        step = np.zeros_like(y)
        for i in range(parity, len(y) - 1, 2):
            v = y[i + 1] - y[i]
            d = max(np.linalg.norm(v), 1e-6)
            step[i] += 0.5 * (d - length[i]) / d * v
            step[i + 1] -= 0.5 * (d - length[i]) / d * v
        y = y + step
    return y


def _pairs_loops(y, r):
    n = len(y)
    dist = np.array([[np.linalg.norm(y[i] - y[j]) for j in range(n)] for i in range(n)])
    far = np.abs(np.subtract.outer(np.arange(n), np.arange(n))) >= 2
    return dist, far


def _ca_chain_mean(loc, bond_raw, sweeps=10, rounds=10, r=3.6, tol=(0.05, 0.1)):
    """The documented projection, written as plain loops over bonds and pairs."""
    y = loc.reshape(-1, 3).copy()
    length = 3.8 + 0.15 * np.tanh(bond_raw)
    n = len(y)
    for _ in range(sweeps):
        y = _bond_sweep_loops(y, length)
    for _ in range(rounds):
        dist, far = _pairs_loops(y, r)
        bond_err = max(abs(np.linalg.norm(y[i + 1] - y[i]) - length[i]) for i in range(n - 1))
        if bond_err <= tol[0] and dist[far].min() >= r - tol[1]:
            break
        step, count = np.zeros_like(y), np.zeros((n, 1))
        for i in range(n):
            for j in range(n):
                if far[i, j] and dist[i, j] < r:
                    step[i] += 0.5 * (r - dist[i, j]) / max(dist[i, j], 1e-6) * (y[i] - y[j])
                    count[i] += 1
        y = _bond_sweep_loops(y + step / np.maximum(count, 1), length)
    return y.reshape(loc.shape)


def ref_ca_chain(x, p, ctx):
    loc = np.stack([_ca_chain_mean(row, p["bond"]) for row in p["loc"]])
    return st.norm.logpdf(x, loc, _softplus(p["scale"])).sum(-1)


GENOTYPE_LOCI = (2, 3)  # allele columns per locus (F = 5)


def ref_genotype(x, p, ctx):
    out, start = 0.0, 0
    for size in GENOTYPE_LOCI:
        probs = _softmax(p["logits"][..., start : start + size])
        counts = x[..., start : start + size]
        out = out + np.array([st.multinomial.logpmf(c, 2, q) for c, q in zip(counts, probs)])
        start += size
    return out


REFERENCES = {
    "genotype": ref_genotype,
    "ca_chain": ref_ca_chain,
    "gaussian": ref_gaussian,
    "bernoulli": ref_bernoulli,
    "categorical": ref_categorical,
    "poisson": ref_poisson,
    "nb": ref_nb,
    "zinb": ref_zinb,
    "dirichlet_multinomial": ref_dirichlet_multinomial,
    "hurdle_dirichlet": ref_hurdle_dirichlet,
}


def make(name: str) -> likelihoods.Likelihood:
    shape = {"categorical": (L,), "ca_chain": (12,)}.get(name, (F,))
    loci = GENOTYPE_LOCI if name == "genotype" else ()
    return likelihoods.build(LikelihoodConfig(name=name, loci=loci), shape, n_letters=A)


def random_params(lik, gen, lead=(N,)):
    params = {
        k: torch.randn(*lead, *s, generator=gen, dtype=torch.float64)
        for k, s in lik.outputs().items()
    }
    params.update(
        {
            k: torch.randn(v.shape, generator=gen, dtype=torch.float64)
            for k, v in lik.global_params().items()
        }
    )
    return params


def data_for(lik, dist, gen):
    torch.manual_seed(int(torch.randint(0, 10_000, (1,), generator=gen)))
    return dist.sample()


def context_for(lik, gen):
    x = torch.poisson(torch.full((N, F), 20.0, dtype=torch.float64), generator=gen)
    return lik.context(x)


def test_every_registered_likelihood_has_a_reference():
    assert set(likelihoods.available()) == set(REFERENCES)


def test_unknown_name_is_a_config_error():
    with pytest.raises(ConfigError, match=r"unknown likelihood .gausian.*gaussian"):
        likelihoods.get("gausian")


@pytest.mark.parametrize("name", sorted(REFERENCES))
def test_shapes_and_support(name):
    gen = torch.Generator().manual_seed(0)
    lik = make(name)
    dist = lik.distribution(random_params(lik, gen), context_for(lik, gen))
    assert tuple(dist.batch_shape) == (N,)
    assert tuple(dist.event_shape) == lik.data_shape
    x = data_for(lik, dist, gen)
    assert tuple(x.shape) == (N, *lik.data_shape)
    assert lik.validate(x.numpy()) is None  # samples lie in the support
    # whole-number families say so (their samples are written as integers), and only they
    assert torch.equal(x, x.round()) == lik.integer_data
    assert dist.log_prob(x).shape == (N,)
    assert lik.featurize(x).shape == (N, lik.n_inputs)


@pytest.mark.parametrize("name", sorted(REFERENCES))
def test_log_prob_matches_scipy(name):
    gen = torch.Generator().manual_seed(1)
    lik = make(name)
    params, ctx = random_params(lik, gen), context_for(lik, gen)
    dist = lik.distribution(params, ctx)
    x = data_for(lik, dist, gen)
    ours = dist.log_prob(x).numpy()
    ref = REFERENCES[name](
        x.numpy(), {k: v.numpy() for k, v in params.items()}, {k: v.numpy() for k, v in ctx.items()}
    )
    np.testing.assert_allclose(ours, ref, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("name", sorted(REFERENCES))
def test_log_prob_broadcasts_over_latent_samples(name):
    gen = torch.Generator().manual_seed(2)
    lik = make(name)
    params, ctx = random_params(lik, gen, lead=(3, N)), context_for(lik, gen)
    dist = lik.distribution(params, ctx)
    assert tuple(dist.batch_shape) == (3, N)
    x = data_for(lik, lik.distribution(random_params(lik, gen), ctx), gen)
    assert dist.log_prob(x).shape == (3, N)


@pytest.mark.parametrize("name", sorted(REFERENCES))
def test_gradients_reach_every_parameter(name):
    gen = torch.Generator().manual_seed(3)
    lik = make(name)
    params = {k: v.requires_grad_() for k, v in random_params(lik, gen).items()}
    ctx = context_for(lik, gen)
    dist = lik.distribution(params, ctx)
    x = data_for(lik, dist, gen)
    dist.log_prob(x).sum().backward()
    for key, value in params.items():
        assert value.grad is not None and torch.isfinite(value.grad).all(), key
        assert value.grad.abs().sum() > 0, key


def test_gaussian_gradients_flow_through_rsample():
    lik = make("gaussian")
    gen = torch.Generator().manual_seed(4)
    params = {k: v.requires_grad_() for k, v in random_params(lik, gen).items()}
    dist = lik.distribution(params, {})
    dist.rsample().pow(2).sum().backward()
    assert params["loc"].grad.abs().sum() > 0 and params["scale"].grad.abs().sum() > 0


def test_nb_moments_match_sampling():
    lik = make("nb")
    params = {
        "rho": torch.zeros(1, F, dtype=torch.float64),
        "log_theta": torch.full((F,), np.log(0.5), dtype=torch.float64),
    }
    ctx = {"library": torch.full((1, 1), 50.0, dtype=torch.float64)}
    base = lik.distribution(params, ctx).base_dist
    torch.manual_seed(0)
    draws = base.sample((40_000,))
    np.testing.assert_allclose(draws.mean(0).numpy(), base.mean.numpy(), rtol=0.03)
    np.testing.assert_allclose(draws.var(0).numpy(), base.variance.numpy(), rtol=0.08)


def test_count_support_check_names_first_bad_entry():
    lik = make("nb")
    x = np.array([[1, 2, 3, 0, 0], [1, -1, 0, 0, 0]], dtype=np.float32)
    bad = lik.validate(x)
    assert (bad.row, bad.column) == (1, 1) and "negative" in bad.problem
    x[1, 1] = 0.5
    assert "whole number" in lik.validate(x).problem


def test_count_support_check_on_sparse_input():
    import scipy.sparse as sp

    lik = make("poisson")
    x = sp.csr_matrix(np.array([[0, 0, 2, 0, 0], [0, 0, 0, 3.5, 0]], dtype=np.float32))
    bad = lik.validate(x)
    assert (bad.row, bad.column) == (1, 3)


def test_dirichlet_multinomial_float32_at_metagenome_depths_matches_scipy():
    # 10⁶–10⁷ reads: the log Γ terms are ≈ n log n and cancel; float32 was off by up to 21 nats
    lik = make("dirichlet_multinomial")
    gen = torch.Generator().manual_seed(5)
    p = random_params(lik, gen)
    shares = torch.softmax(torch.randn(N, F, generator=gen, dtype=torch.float64), -1)
    x = torch.round(shares * torch.tensor([1e6, 3e6, 1e7, 2e6, 5e6, 8e6, 4e6])[:N, None])
    ref = ref_dirichlet_multinomial(x.numpy(), {k: v.numpy() for k, v in p.items()}, None)
    p32 = {k: v.float() for k, v in p.items()}
    out = lik.distribution(p32, lik.context(x.float())).log_prob(x.float())
    assert out.dtype == torch.float32
    np.testing.assert_allclose(out.double().numpy(), ref, rtol=1e-6, atol=1e-3)


@pytest.mark.parametrize("name", ["poisson", "nb", "zinb"])
def test_count_families_in_float32_at_bulk_counts_match_scipy(name):
    # 10⁶–10⁷ counts: x log μ, μ and log x! are ≈ x log x and cancel; float32 was off by up
    # to 10 nats per entry (Poisson gave log p = 0 at 10⁷ counts, NB a positive log-pmf)
    lik = make(name)
    gen = torch.Generator().manual_seed(8)
    p = random_params(lik, gen)
    depth = torch.tensor([1e6, 3e6, 1e7, 2e6, 5e6, 8e6, 4e6])[:N, None]
    x = torch.round(torch.softmax(p["rho"], -1) * depth)
    ctx = {k: v.numpy() for k, v in lik.context(x).items()}
    ref = REFERENCES[name](x.numpy(), {k: v.numpy() for k, v in p.items()}, ctx)
    p32 = {k: v.float() for k, v in p.items()}
    out = lik.distribution(p32, lik.context(x.float())).log_prob(x.float())
    np.testing.assert_allclose(out.double().numpy(), ref, rtol=1e-6, atol=2e-2)


def test_dirichlet_multinomial_record_without_reads_has_one_outcome():
    lik = make("dirichlet_multinomial")
    p = random_params(lik, torch.Generator().manual_seed(6), lead=(2,))
    x = torch.zeros(2, F, dtype=torch.float64)
    x[1, 0] = 5.0
    dist = lik.distribution(p, lik.context(x))
    assert dist.log_prob(x)[0] == 0.0  # DM given depth 0: the empty record is certain
    assert dist.mean[0].abs().sum() == 0 and dist.sample()[0].abs().sum() == 0
    assert dist.mean[1].sum().item() == pytest.approx(5.0) and dist.sample()[1].sum() == 5.0


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("name", ["poisson", "dirichlet_multinomial"])
def test_reads_of_a_feature_far_below_them_keep_their_log_prob_and_gradient(name, dtype):
    # one read of a feature with share e⁻⁴⁰: log p ≈ −39 nats. μ (α) clamped at 1e-8 gave
    # −18 nats (Poisson −21.6 for the record, not −38.6) and a zero gradient to its logit
    lik = likelihoods.build(LikelihoodConfig(name=name), (2,))
    params = random_params(lik, torch.Generator().manual_seed(9), lead=(1,))
    params["rho"] = torch.tensor([[0.0, -40.0]], dtype=torch.float64)
    x = torch.tensor([[99.0, 1.0]], dtype=torch.float64)
    ctx = lik.context(x)
    ref = REFERENCES[name](
        x.numpy(), {k: v.numpy() for k, v in params.items()}, {k: v.numpy() for k, v in ctx.items()}
    )
    params = {k: v.to(dtype).requires_grad_() for k, v in params.items()}
    out = lik.distribution(params, lik.context(x.to(dtype))).log_prob(x.to(dtype))
    np.testing.assert_allclose(out.detach().double().numpy(), ref, rtol=1e-6)
    out.sum().backward()
    assert params["rho"].grad[0, 1] == pytest.approx(1.0, abs=1e-3)  # x_j − E[x_j] ≈ 1 − 0
