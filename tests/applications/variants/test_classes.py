"""EVE-style classes of a scan: the two-Gaussian mixture against known parameters and against
scikit-learn's maximum-likelihood fit, the labels, and bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest

from biovae.applications.variants import classes
from biovae.errors import ConfigError, DataError

TRUE = {"weights": (0.7, 0.3), "means": (-1.0, 4.0), "sds": (1.0, 1.5)}


def _sample(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    k = rng.random(n) < TRUE["weights"][1]
    return np.where(k, rng.normal(4.0, 1.5, n), rng.normal(-1.0, 1.0, n))


def _posterior(x: np.ndarray, weights, means, sds) -> np.ndarray:
    def dens(k):
        z = (x - means[k]) / sds[k]
        return weights[k] * np.exp(-0.5 * z * z) / (sds[k] * math.sqrt(2 * math.pi))

    return dens(1) / (dens(0) + dens(1))


def test_mixture_recovers_known_parameters_and_posterior():
    x = _sample(40_000)
    fit = classes.fit_mixture(x)
    np.testing.assert_allclose(fit.weights, TRUE["weights"], atol=0.01)
    np.testing.assert_allclose(fit.means, TRUE["means"], atol=0.05)
    np.testing.assert_allclose(fit.sds, TRUE["sds"], atol=0.05)
    grid = np.linspace(-5, 9, 57)
    # Bayes' rule with the fitted parameters, and close to the true posterior
    np.testing.assert_allclose(
        fit.posterior(grid), _posterior(grid, fit.weights, fit.means, fit.sds), atol=1e-12
    )
    assert np.abs(fit.posterior(grid) - _posterior(grid, **TRUE)).max() < 0.06
    assert fit.n == len(x)


def test_mixture_likelihood_matches_scikit_learn():
    mixture = pytest.importorskip("sklearn.mixture")
    x = np.concatenate([_sample(600, seed=3), [12.0, 13.0]])  # a small, skewed sample
    ours = classes.fit_mixture(x, n_init=10, seed=1)
    ref = mixture.GaussianMixture(2, n_init=10, tol=1e-10, max_iter=5000, random_state=0)
    ref.fit(x[:, None])
    theirs = float(ref.score(x[:, None])) * len(x)
    assert ours.log_likelihood >= theirs - 1e-3
    # and our reported likelihood is the likelihood of our parameters
    assert ours.log_likelihood == pytest.approx(_loglik(x, ours), rel=1e-9)


def _loglik(x, fit):
    d = fit.density(x).sum(axis=1)
    return float(np.log(d).sum())


def test_damaging_component_is_the_higher_mean_and_posterior_is_monotone_between_means():
    fit = classes.fit_mixture(-_sample(5_000))  # mirrored: the big group now has the higher mean
    assert fit.means[1] > fit.means[0] and fit.weights[1] > 0.6
    grid = np.linspace(fit.means[0], fit.means[1], 40)
    assert np.all(np.diff(fit.posterior(grid)) > 0)
    assert np.isnan(fit.posterior(np.array([np.nan, 0.0]))[0])


def test_bimodality_separates_two_groups_from_one():
    two = _sample(3_000)
    one = np.random.default_rng(5).normal(size=3_000)
    assert classes.bimodality(two, classes.fit_mixture(two)) > 100
    assert classes.bimodality(one, classes.fit_mixture(one)) < 10


def test_labels_set_aside_the_most_uncertain_fraction():
    p = np.array([0.01, 0.99, 0.5, 0.45, 0.9, 0.2, np.nan, 0.6])
    got = classes.label(p, uncertain_fraction=0.25)
    # 7 finite values → round(1.75) = 2 uncertain: the two closest to 0.5
    assert list(got) == [
        "tolerated",
        "damaging",
        "uncertain",
        "uncertain",
        "damaging",
        "tolerated",
        "",
        "damaging",
    ]
    assert list(classes.label(p, 0.0))[:3] == ["tolerated", "damaging", "tolerated"]
    with pytest.raises(ConfigError, match="uncertain fraction"):
        classes.label(p, 1.0)


def test_entropy_is_the_binary_entropy():
    np.testing.assert_allclose(classes.entropy(np.array([0.5])), [math.log(2)])
    assert classes.entropy(np.array([0.0, 1.0])).max() < 1e-9


def test_classify_scan_skips_synonymous_rows_and_is_deterministic():
    rng = np.random.default_rng(2)
    score = -_sample(400, seed=4)  # Δ ELBO = −index
    sub = rng.random(400) > 0.05
    score[~sub] = 0.0
    a = classes.classify_scan(score, sub, seed=7)
    b = classes.classify_scan(score, sub, seed=7)
    np.testing.assert_array_equal(a.p_damaging, b.p_damaging)
    assert (a.label[~sub] == "synonymous").all() and np.isnan(a.p_damaging[~sub]).all()
    np.testing.assert_array_equal(a.evolutionary_index, -score)
    n_unc = int((a.label == "uncertain").sum())
    assert n_unc == round(0.25 * sub.sum())
    worst = np.argmax(np.where(sub, a.evolutionary_index, -np.inf))
    assert a.label[worst] == "damaging" and a.mixture.n == sub.sum()


@pytest.mark.parametrize(
    ("values", "message"),
    [(np.arange(5.0), "at least 20"), (np.ones(50), "same score"), (np.full(30, np.nan), "got 0")],
)
def test_too_little_to_classify_is_a_data_error(values, message):
    with pytest.raises(DataError, match=message):
        classes.fit_mixture(values)


def test_report_verdict_names_one_sided_and_unimodal_fits():
    from biovae.reports.variants_classes import classes_verdict

    counts = {"damaging": 0, "uncertain": 10, "tolerated": 30}
    assert "No substitution is confidently damaging" in classes_verdict(counts, 130.0)
    counts = {"damaging": 10, "uncertain": 10, "tolerated": 30}
    assert "not clearly bimodal" in classes_verdict(counts, 3.0)
    assert "fall into two groups (ΔBIC 130" in classes_verdict(counts, 130.0)


def test_classify_more_reproduces_the_scan_and_skips_other_rows():
    score = -_sample(800, seed=9)
    sub = np.ones(800, dtype=bool)
    found = classes.classify_scan(score, sub)
    index, p, got = classes.classify_more(found, score, sub)
    np.testing.assert_array_equal(index, -score)
    np.testing.assert_array_equal(got, found.label)
    np.testing.assert_array_equal(p, found.p_damaging)
    single = np.array([True, False, True])
    _, p2, got2 = classes.classify_more(found, np.array([-30.0, -30.0, np.nan]), single)
    assert list(got2) == ["damaging", "", ""] and np.isnan(p2[1:]).all()
    none = classes.classify_scan(score, sub, uncertain_fraction=0.0)
    assert none.entropy_threshold == math.inf
    assert "uncertain" not in set(classes.classify_more(none, score, sub)[2])


def test_posterior_never_falls_as_the_index_rises_so_the_worst_substitution_is_damaging():
    # a narrow damaging group beside a wide tolerated one (as a 40-sequence BLAT_ECOLX scan
    # fits): Bayes' rule alone gives the far tail back to the wide component
    rng = np.random.default_rng(0)
    index = np.concatenate([rng.normal(6.0, 3.3, 1_000), rng.normal(8.6, 1.6, 4_000)])
    index = np.append(index, 16.0)
    fit = classes.fit_mixture(index)
    assert fit.sds[1] < fit.sds[0]
    grid = np.linspace(index.min(), index.max(), 400)
    assert np.all(np.diff(fit.posterior(grid)) >= 0)
    found = classes.classify_scan(-index, np.ones(len(index), dtype=bool))
    assert found.label[-1] == "damaging" and found.p_damaging[-1] == found.p_damaging.max()
    # between the means it is Bayes' rule unchanged
    mid = np.linspace(fit.means[0], fit.means[1], 9)
    np.testing.assert_allclose(
        fit.posterior(mid), _posterior(mid, fit.weights, fit.means, fit.sds), rtol=1e-12
    )


def test_posterior_is_held_below_the_means_when_the_damaging_group_is_wider():
    fit = classes.Mixture((0.5, 0.5), (0.0, 4.0), (0.5, 2.0), 0.0, 100)
    grid = np.linspace(-10.0, 12.0, 500)
    assert np.all(np.diff(fit.posterior(grid)) >= -1e-15)
    assert fit.posterior(np.array([-10.0]))[0] < 0.5


def test_report_verdict_does_not_call_one_heavy_tailed_population_two_groups():
    """A narrow and a wide Gaussian around one mean (BLAT: 9.17 ± 1.24 and 8.75 ± 3.36) beat a
    single Gaussian by ΔBIC 495, and the page read that as two groups of substitutions."""
    pytest.importorskip("matplotlib")
    from biovae.reports.variants_classes import ashman_d, classes_section

    rng = np.random.default_rng(3)
    one = np.where(rng.random(2000) < 0.5, rng.normal(9.0, 1.2, 2000), rng.normal(9.0, 3.4, 2000))
    found = classes.classify_scan(-one, np.ones(2000, dtype=bool))
    assert found.delta_bic > 10 and ashman_d(found.mixture) < 2
    verdict = classes_section(found).verdict
    assert "not two groups" in verdict and "fall into two groups" not in verdict

    apart = classes.classify_scan(-_sample(2000, seed=4), np.ones(2000, dtype=bool))
    assert ashman_d(apart.mixture) > 2  # means -1 and 4, sds 1 and 1.5: D = 3.9
    assert "fall into two groups" in classes_section(apart).verdict


def test_ashman_d_of_two_gaussians():
    from biovae.reports.variants_classes import ashman_d

    mix = classes.Mixture((0.5, 0.5), (0.0, 3.0), (1.0, 2.0), log_likelihood=0.0, n=10)
    assert ashman_d(mix) == pytest.approx(math.sqrt(2) * 3 / math.sqrt(5))
