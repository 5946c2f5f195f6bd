"""Mutual information, collapse verdicts and fidelity metrics on cases with known answers."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch.distributions import Categorical, Independent, MixtureSameFamily, Normal

from biovae.config import FitConfig, ObjectiveConfig
from biovae.diagnostics.collapse import collapse_report
from biovae.diagnostics.fidelity import classifier_auc, mmd2, sequence_fidelity, table_fidelity
from biovae.diagnostics.rate_distortion import mutual_information
from biovae.errors import DataError
from biovae.objectives import Batch


class FixedPosteriors:
    """Stand-in model whose q(z|x_n) are given directly (x holds the record index)."""

    def __init__(self, loc, scale, mixture_prior=False):
        self.loc, self.scale, self.mixture_prior = loc, scale, mixture_prior

    def encode(self, x, c=None):
        idx = x[:, 0].long()
        return Independent(Normal(self.loc[idx], self.scale[idx]), 1)

    def prior(self):
        k = self.loc.shape[1]
        unit = Independent(Normal(torch.zeros(k), torch.ones(k)), 1)
        if not self.mixture_prior:
            return unit
        # N(0, I) written as a mixture of one component: the Monte-Carlo path of the rate
        comp = Independent(Normal(torch.zeros(1, k), torch.ones(1, k)), 1)
        return MixtureSameFamily(Categorical(logits=torch.zeros(1)), comp)


def _batches(n):
    return [Batch(torch.arange(n, dtype=torch.float32)[:, None])]


def test_identical_posteriors_carry_no_information():
    n = 500
    model = FixedPosteriors(torch.full((n, 2), 0.3), torch.full((n, 2), 0.5))
    mi = mutual_information(model, _batches(n))
    assert abs(mi["mutual_information"]) < 0.02
    assert mi["rate"] > 0.1  # all rate is marginal KL: the code is off-prior but uninformative


def test_separated_narrow_posteriors_reach_log_n():
    n = 400
    gen = torch.Generator().manual_seed(0)
    model = FixedPosteriors(torch.randn(n, 3, generator=gen), torch.full((n, 3), 1e-3))
    mi = mutual_information(model, _batches(n))
    assert math.isclose(mi["mutual_information"], math.log(n), rel_tol=0.01)
    assert mi["mutual_information"] <= mi["rate"]


def test_mutual_information_never_exceeds_log_n():
    gen = torch.Generator().manual_seed(2)
    for n in (1, 2, 5, 30):
        loc, scale = torch.randn(n, 3, generator=gen), torch.rand(n, 3, generator=gen) + 0.3
        for prior in (False, True):
            model = FixedPosteriors(loc, scale, mixture_prior=prior)
            values = [mutual_information(model, _batches(n), seed=s) for s in range(40)]
            assert all(v["mutual_information"] <= math.log(n) + 1e-12 for v in values)
            if n == 1:  # one record: the code says nothing about which record it was
                assert all(v["mutual_information"] == 0.0 for v in values)


def test_mutual_information_of_linear_gaussian_posteriors_is_the_closed_form():
    # x = W z + ε, ε ~ N(0, σ² I), with the exact posteriors: I(x; z) = ½ log det(I + WᵀW/σ²)
    n, sigma = 3000, 0.5
    rng = np.random.default_rng(0)
    w = np.linalg.qr(rng.normal(size=(8, 2)))[0] * np.array([2.0, 1.0])
    x = rng.normal(size=(n, 2)) @ w.T + sigma * rng.normal(size=(n, 8))
    m = w.T @ w + sigma**2 * np.eye(2)
    loc = x @ np.linalg.solve(m, w.T).T
    scale = np.tile(np.sqrt(np.diag(sigma**2 * np.linalg.inv(m))), (n, 1))  # diagonal: W ⟂
    model = FixedPosteriors(torch.as_tensor(loc), torch.as_tensor(scale))
    exact = 0.5 * np.linalg.slogdet(np.eye(2) + w.T @ w / sigma**2)[1]  # 2.22 nats
    assert mutual_information(model, _batches(n))["mutual_information"] == pytest.approx(
        exact, abs=0.08
    )  # about three Monte-Carlo standard errors


def test_a_mixture_prior_gives_the_analytic_rate_by_monte_carlo():
    n = 2000
    gen = torch.Generator().manual_seed(1)
    loc, scale = torch.randn(n, 3, generator=gen) * 0.8, torch.rand(n, 3, generator=gen) + 0.2
    exact = mutual_information(FixedPosteriors(loc, scale), _batches(n))
    mc = mutual_information(FixedPosteriors(loc, scale, mixture_prior=True), _batches(n))
    assert math.isclose(mc["rate"], exact["rate"], abs_tol=0.1)
    assert math.isclose(mc["mutual_information"], exact["mutual_information"], abs_tol=0.1)
    # the same z; the analytic rate's control variate moves the marginal KL within its noise
    assert math.isclose(mc["marginal_kl"], exact["marginal_kl"], abs_tol=exact["marginal_kl_se"])
    for mi in (exact, mc):  # the rate splits into the two estimates exactly
        assert mi["rate"] == pytest.approx(mi["estimate"] + mi["marginal_kl"], abs=1e-12)


def test_collapse_verdict_and_remedies():
    cfg = FitConfig(objective=ObjectiveConfig(beta=20.0))
    rep = collapse_report(
        np.zeros(4), np.zeros(4), np.zeros(4, bool), {"mutual_information": 0.0}, cfg
    )
    assert rep.n_active == 0 and "0 of 4" in rep.verdict and "collapsed" in rep.verdict
    assert "β = 20" in rep.verdict and any("--beta" in r for r in rep.remedies)
    ok = collapse_report(
        np.ones(3), np.ones(3), np.ones(3, bool), {"mutual_information": 2.0}, FitConfig()
    )
    assert "no sign of posterior collapse" in ok.verdict and ok.remedies == []


def test_collapse_verdict_counts_one_collapsed_dimension_in_the_singular():
    active = np.array([True, False, True])
    rep = collapse_report(np.ones(3), np.ones(3), active, {"mutual_information": 1.0}, FitConfig())
    assert "2 of 3" in rep.verdict and "; 1 dimension collapsed to the prior" in rep.verdict


def test_table_fidelity_separates_wrong_samples():
    rng = np.random.default_rng(0)
    real = rng.normal(size=(600, 10))
    same = table_fidelity(real, rng.normal(size=(600, 10)), counts=False)
    wrong = table_fidelity(real, rng.normal(size=(600, 10)) * 0.3 + 0.5, counts=False)
    assert abs(same["classifier_auc"] - 0.5) < 0.06 and abs(same["mmd2"]) < 0.01
    assert wrong["classifier_auc"] > 0.95 and wrong["mmd2"] > 0.1


def test_classifier_test_works_on_a_few_dozen_records():
    rng = np.random.default_rng(1)
    real = rng.normal(size=(15, 5))
    wrong = table_fidelity(real, rng.normal(size=(15, 5)) * 0.2 + 2.0, counts=False)
    assert wrong["classifier_auc"] > 0.9  # trivially separable, even with 15 records each


def test_sequence_fidelity_sees_missing_couplings():
    rng = np.random.default_rng(1)
    n, length = 2000, 12
    first = rng.choice(4, size=(n, length // 2), p=[0.55, 0.25, 0.15, 0.05])
    coupled = np.hstack([first, (first + 1) % 4])  # position j+6 determined by position j
    independent = np.stack([rng.permutation(col) for col in coupled.T], axis=1)  # same sites
    fid = sequence_fidelity(coupled[:1000], independent, 4)
    assert fid["site_frequency_r"] > 0.8
    assert fid["pair_covariance_r"] < 0.2
    same = sequence_fidelity(coupled[:1000], coupled[1000:], 4)
    assert same["pair_covariance_r"] > 0.95


@pytest.mark.parametrize("counts", [True, False])
def test_table_fidelity_accepts_counts(counts):
    rng = np.random.default_rng(2)
    real = rng.poisson(3, size=(200, 5)).astype(float)
    out = table_fidelity(real, rng.poisson(3, size=(200, 5)).astype(float), counts=counts)
    assert 0.3 < out["classifier_auc"] < 0.7


def test_fidelity_of_a_few_records_uses_fewer_folds():
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.model_selection import StratifiedKFold, cross_val_score

    rng = np.random.default_rng(3)
    real, fake = rng.normal(size=(3, 4)), rng.normal(size=(4, 4)) + 3.0
    x, y = np.vstack([real, fake[:3]]), np.r_[np.zeros(3), np.ones(3)]
    clf = HistGradientBoostingClassifier(max_iter=100, min_samples_leaf=5, random_state=0)
    cv = StratifiedKFold(3, shuffle=True, random_state=0)  # 3 folds: 3 records per side
    expected = cross_val_score(clf, x, y, cv=cv, scoring="roc_auc").mean()
    assert classifier_auc(real, fake) == pytest.approx(expected)
    two = table_fidelity(real[:2], fake[:2], counts=False)
    assert np.isfinite(two["mmd2"]) and 0 <= two["classifier_auc"] <= 1


@pytest.mark.parametrize("n_real, n_fake", [(1, 1), (1, 5), (5, 1), (0, 3)])
def test_fidelity_needs_two_records_a_side(n_real, n_fake):
    rng = np.random.default_rng(4)
    real, fake = rng.normal(size=(n_real, 3)), rng.normal(size=(n_fake, 3))
    for fn in (classifier_auc, mmd2):
        with pytest.raises(DataError, match="at least 2 records on each side"):
            fn(real, fake)
