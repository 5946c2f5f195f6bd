"""Differential expression calls: the posterior expected FDR rule against exact arithmetic at
its boundary, and genes of equal P(DE) called in the order the table lists them."""

from __future__ import annotations

from fractions import Fraction

import numpy as np

import biovae
from biovae.applications import differential as de
from biovae.config import FitConfig, ModelConfig, NetworkConfig, TrainConfig


def test_fdr_calls_equal_the_rule_in_exact_arithmetic_at_its_boundary():
    """P(DE) are counts over S draws: read in fractions, the rule is met exactly at its
    boundary (1 − 4750/5000 = 0.05); in floats 1 − 0.95 > 0.05 left such genes out."""
    assert de.fdr_calls(np.array([4750 / 5000]), 0.05).all()
    assert de.fdr_calls(np.ones(4), 0.05).all()  # all certain: expected FDR 0
    rng = np.random.default_rng(0)
    for _ in range(500):
        s, fdr = int(rng.choice([10, 20, 100, 5000])), float(rng.choice([0.01, 0.05, 0.1, 0.2]))
        k = rng.integers(int(0.7 * s), s + 1, int(rng.integers(1, 10)))
        top = np.sort(k)[::-1]
        means = [Fraction(int(s * n - top[:n].sum()), s * n) for n in range(1, len(k) + 1)]
        best = max([n + 1 for n, m in enumerate(means) if m <= Fraction(str(fdr))], default=0)
        assert de.fdr_calls(k / s, fdr).sum() == best


def test_tied_genes_are_called_as_the_table_lists_them(monkeypatch):
    """Two genes of P(DE) 0.9 of which the FDR admits one: the larger change, listed first, is
    called (the calls went by gene order, and the table listed an uncalled gene above a called
    one)."""
    est, x, obs, s, g = _model_and_stubbed_draws(monkeypatch)
    settings = de.DESettings(n_samples=s, pseudocount=0.0, fdr=0.06)  # 2 genes: FDR 0.05
    out = de.differential_expression(est, x, obs, groupby="group", group1="B", settings=settings)
    called = out["is_de_fdr_0.06"].to_numpy()
    assert list(out.index[:3]) == ["f2", "f1", "f0"]
    assert list(called) == [True, True] + [False] * (g - 2)
    calls = de.fdr_calls(np.array([0.9, 0.9, 1.0]), 0.06, np.array([1.0, -3.0, 1.0]))
    np.testing.assert_array_equal(calls, [False, True, True])


def test_fdr_zero_calls_only_the_certain_genes(monkeypatch):
    """At a target FDR of 0 (accepted, as scvi-tools' fdr_target=0) the rule calls exactly the
    genes of P(DE) 1, by hand: P(DE) (1, 0.9, 1, 0.5, 0.99) → the first and third; none when
    no gene is certain. Through ``differential_expression`` the draws below give P(DE) 1 for
    f2 only (f0 and f1 change in 9 of 10 draws), so only f2 is called."""
    p = np.array([1.0, 0.9, 1.0, 0.5, 0.99])
    np.testing.assert_array_equal(de.fdr_calls(p, 0.0), [True, False, True, False, False])
    assert not de.fdr_calls(np.array([0.9999, 0.5]), 0.0).any()
    est, x, obs, s, _ = _model_and_stubbed_draws(monkeypatch)
    settings = de.DESettings(n_samples=s, pseudocount=0.0, fdr=0.0)
    out = de.differential_expression(est, x, obs, groupby="group", group1="B", settings=settings)
    called = out.index[out["is_de_fdr_0"].to_numpy()]
    assert list(called) == ["f2"]


def _model_and_stubbed_draws(monkeypatch):
    """A 1-epoch NB model of 40 cells x 6 genes (groups A, B) and the DE sampler stubbed to 10
    draws per group in which f2 changes by log2 FC 1 in every draw (P(DE) 1), f0 by 1 and f1
    by 3 in 9 of 10 (P(DE) 0.9): ``(est, x, obs, draws, genes)``."""
    rng = np.random.default_rng(0)
    x = rng.poisson(5.0, (40, 6)).astype(np.float32)
    obs = {"group": np.repeat(["A", "B"], 20)}
    cfg = FitConfig(
        model=ModelConfig(n_latent=2, network=NetworkConfig(hidden=(8,))),
        train=TrainConfig(epochs=1, batch_size=20, seed=0),
    )
    est = biovae.VAE(likelihood="nb", config=cfg).fit(x)
    s, g = 10, x.shape[1]
    h2 = np.full((s, g), 1.0 / g)
    h1 = h2.copy()
    h1[:, 2] *= 2.0  # log2 FC 1 in every draw: P(DE) 1
    h1[:9, 0] *= 2.0  # log2 FC 1 in 9 of 10 draws: P(DE) 0.9
    h1[:9, 1] *= 8.0  # log2 FC 3 in 9 of 10 draws: P(DE) 0.9
    draws = iter([h1, h2])
    monkeypatch.setattr(de, "sample_frequencies", lambda *a, **k: next(draws))
    return est, x, obs, s, g
