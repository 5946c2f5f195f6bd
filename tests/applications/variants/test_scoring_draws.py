"""Scoring a variational decoder with draws of its weights (DeepSequence's scoring)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from biovae.applications.variants import family, scoring
from biovae.applications.variants.alignment import read_alignment
from tests.applications.variants.test_family import SMALL


@pytest.fixture(scope="module")
def bayes():
    from tests.conftest import FIXTURES

    aln = read_alignment(FIXTURES / "blat_ecolx_first40.a2m")
    cfg = replace(SMALL, model=replace(SMALL.model, bayesian=True))
    fam = family.fit(aln, replace(cfg, train=replace(cfg.train, steps=30)))
    return aln, fam.members[0]


def _mutants(aln, n=5):
    rng = np.random.default_rng(0)
    codes = np.repeat(aln.focus[None], n, 0)
    for i in range(n):
        pos = rng.choice(codes.shape[1], 2, replace=False)
        codes[i, pos] = (codes[i, pos] + 1 + i) % 20
    codes[-1] = aln.focus  # synonymous
    return codes


def test_sampled_weights_match_a_reference_loop(bayes):
    """Sample s: θ_s ~ q(θ) and z_s = μ + σ ε_s shared by focus and mutant; Δ averaged over s."""
    aln, model = bayes
    codes = _mutants(aln)
    mean, se = scoring.delta_elbo(model, aln.focus, codes, n_samples=7, seed=2)
    gen = torch.Generator().manual_seed(2)
    eps = torch.randn(7, 3, generator=gen)
    diffs = []
    for s in range(7):
        with model.drawn(model.draw_decoder(1.0, generator=gen)[0]):
            mut = scoring.elbo_draws(
                model, torch.from_numpy(codes.astype(np.int64)), eps[s : s + 1]
            )
            wt = scoring.elbo_draws(
                model, torch.from_numpy(aln.focus[None].astype(np.int64)), eps[s : s + 1]
            )
        diffs.append((mut - wt)[0].double())
    d = torch.stack(diffs)
    assert np.allclose(mean[:-1], d.mean(0).numpy()[:-1], atol=1e-4)
    assert np.allclose(se[:-1], (d.std(0) / 7**0.5).numpy()[:-1], atol=1e-4)
    assert mean[-1] == 0.0 and se[-1] == 0.0


def test_draws_differ_from_mean_weights_and_are_deterministic(bayes):
    aln, model = bayes
    codes = _mutants(aln)
    drawn = scoring.delta_elbo(model, aln.focus, codes, 6, seed=0)
    again = scoring.delta_elbo(model, aln.focus, codes, 6, seed=0)
    means = scoring.delta_elbo(model, aln.focus, codes, 6, seed=0, sampled_weights=False)
    assert np.array_equal(drawn[0], again[0]) and np.array_equal(drawn[1], again[1])
    assert not np.allclose(drawn[0][:-1], means[0][:-1])
    z = torch.zeros(2, 3)  # after scoring, decode() is back on the posterior means
    assert torch.equal(
        model.decode(z).base_dist.logits, model.decoder(z, None, {}).base_dist.logits
    )


def test_point_mass_posterior_gives_the_mean_weight_scores(bayes):
    """With σ → 0 every draw of θ is its mean, so both scorings agree (up to float rounding)."""
    aln, model = bayes
    tight = type(model)(len(aln.focus), len(aln.alphabet), model.config)
    tight.load_state_dict(model.state_dict())
    with torch.no_grad():
        for p in tight.log_sigma.values():
            p.fill_(-40.0)
    tight.eval()
    codes = _mutants(aln)
    drawn, _ = scoring.delta_elbo(tight, aln.focus, codes, 5, seed=1)
    means, _ = scoring.delta_elbo(tight, aln.focus, codes, 5, seed=1, sampled_weights=False)
    assert np.allclose(drawn, means, atol=1e-4)


@pytest.mark.parametrize("sampled", [True, False])
def test_one_sample_has_no_standard_error(bayes, sampled):
    """A single difference gives no spread: SE unknown (NaN), not 0 as if exact; a synonymous
    mutant is exact all the same."""
    aln, model = bayes
    codes = _mutants(aln)
    mean, se = scoring.delta_elbo(model, aln.focus, codes, 1, seed=0, sampled_weights=sampled)
    assert np.isfinite(mean).all() and np.isnan(se[:-1]).all()
    assert mean[-1] == 0.0 and se[-1] == 0.0


def test_map_models_ignore_the_switch():
    from tests.conftest import FIXTURES

    aln = read_alignment(FIXTURES / "blat_ecolx_first40.a2m")
    model = family.fit(aln, replace(SMALL, train=replace(SMALL.train, steps=5))).members[0]
    codes = _mutants(aln)
    a = scoring.delta_elbo(model, aln.focus, codes, 4, seed=0)
    b = scoring.delta_elbo(model, aln.focus, codes, 4, seed=0, sampled_weights=False)
    assert np.array_equal(a[0], b[0])


def test_parallel_normal_noise_depends_on_the_seed_only():
    """Large CPU draws are filled in parts by several threads: same seed, same values, whatever
    the thread count; the values are standard normal and the parts are not copies."""
    from biovae.applications.variants.model import normal_noise

    like = torch.empty(3, 1 << 19)  # 1.5 M values: the parallel path
    before = torch.get_num_threads()
    try:
        draws = []
        for threads in (1, 2, 3):
            torch.set_num_threads(threads)
            draws.append(normal_noise(like, torch.Generator().manual_seed(5)))
    finally:
        torch.set_num_threads(before)
    assert torch.equal(draws[0], draws[1]) and torch.equal(draws[0], draws[2])
    v = draws[0].double().view(-1)
    assert abs(float(v.mean())) < 5 / len(v) ** 0.5 and abs(float(v.std()) - 1) < 0.005
    parts = v.chunk(4)
    assert not torch.equal(parts[0][:100], parts[1][:100])
    assert not torch.equal(draws[0], normal_noise(like, torch.Generator().manual_seed(6)))


@pytest.mark.parametrize("sampled", [True, False])
def test_a_mutant_scores_the_same_alone_or_among_others(bayes, sampled):
    """The draws are the seed's, not the row's: a mutant's score does not depend on the rows
    scored with it or its place among them (to float32 rounding of the batched sums)."""
    aln, model = bayes
    codes = _mutants(aln, n=6)[:-1]
    many, _ = scoring.delta_elbo(model, aln.focus, codes, 9, seed=4, sampled_weights=sampled)
    flipped, _ = scoring.delta_elbo(
        model, aln.focus, codes[::-1], 9, seed=4, sampled_weights=sampled
    )
    for i, row in enumerate(codes):
        alone, _ = scoring.delta_elbo(
            model, aln.focus, row[None], 9, seed=4, sampled_weights=sampled
        )
        assert alone[0] == pytest.approx(many[i], rel=1e-4, abs=1e-4)
    assert np.allclose(flipped[::-1], many, rtol=1e-4, atol=1e-4)
    assert np.ptp(many) > 1e-2  # the rows do score differently
