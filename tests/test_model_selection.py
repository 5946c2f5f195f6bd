"""scikit-learn's model selection on biovae's estimators: ``score`` is one number (the mean
log-likelihood, or a classifier's accuracy), ``score_samples`` the per-record values.

``GridSearchCV`` and ``cross_val_score`` failed with "scoring must return a number" while
``score`` returned one value per record.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from scipy import stats

import biovae
from biovae.errors import ConfigError, DataError

sklearn = pytest.importorskip("sklearn")
from sklearn.base import clone  # noqa: E402
from sklearn.metrics import accuracy_score  # noqa: E402
from sklearn.model_selection import (  # noqa: E402
    GridSearchCV,
    KFold,
    StratifiedKFold,
    cross_val_score,
)

RNG = np.random.default_rng(0)
X = RNG.normal(size=(60, 5))
Y = (X[:, 0] > 0).astype(int)


def _two_factor_ppca(n: int = 300, f: int = 6, sd: float = 0.5) -> np.ndarray:
    """Records of a probabilistic PCA with two latent factors: x = W z + μ + ε."""
    rng = np.random.default_rng(1)
    w = rng.normal(scale=2.0, size=(f, 2))
    x = rng.normal(size=(n, 2)) @ w.T + rng.normal(size=f) + rng.normal(scale=sd, size=(n, f))
    return x.astype(np.float32).astype(np.float64)  # as biovae reads it (float32)


def _ppca_log_likelihood(train: np.ndarray, test: np.ndarray, k: int) -> np.ndarray:
    """Tipping & Bishop's maximum-likelihood PPCA of ``train`` (σ² the mean discarded
    eigenvalue of the covariance), log N(x; μ, W Wᵀ + σ² I) of each row of ``test``."""
    mean = train.mean(0)
    eig, vecs = np.linalg.eigh(np.cov(train, rowvar=False, bias=True))
    eig, vecs = eig[::-1], vecs[:, ::-1]
    sigma2 = eig[k:].mean()
    u = vecs[:, :k]
    cov = u @ np.diag(eig[:k] - sigma2) @ u.T + sigma2 * np.eye(len(mean))
    return stats.multivariate_normal(mean, cov).logpdf(test)


def test_pca_score_samples_is_the_ppca_log_likelihood_and_score_its_mean():
    data = _two_factor_ppca()
    pca = biovae.PCA(n_latent=2).fit(data[:200])
    truth = _ppca_log_likelihood(data[:200], data[200:], 2)
    np.testing.assert_allclose(pca.score_samples(data[200:]), truth, rtol=1e-9)
    assert isinstance(pca.score(data[200:]), float)
    assert pca.score(data[200:]) == pytest.approx(truth.mean(), rel=1e-9)


def test_grid_search_prefers_the_true_number_of_pca_factors():
    """On data of a 2-factor PPCA the held-out mean log-likelihood of 2 components beats 1."""
    data = _two_factor_ppca()
    grid = GridSearchCV(biovae.PCA(), {"n_latent": [1, 2]}, cv=3, error_score="raise")
    grid.fit(data)
    assert grid.best_params_ == {"n_latent": 2}
    for i, k in enumerate((1, 2)):  # each fold's score: the closed form's mean on that fold
        by_hand = [
            _ppca_log_likelihood(data[train], data[test], k).mean()
            for train, test in KFold(3).split(data)
        ]
        np.testing.assert_allclose(grid.cv_results_["mean_test_score"][i], np.mean(by_hand))


def test_grid_search_picks_the_vae_of_the_higher_mean_held_out_elbo():
    counts = np.random.default_rng(2).poisson(3, size=(60, 6)).astype(float)
    est = biovae.VAE(likelihood="poisson", epochs=2, seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # (collapse warnings of two-epoch fits)
        grid = GridSearchCV(est, {"n_latent": [1, 3]}, cv=2, error_score="raise").fit(counts)
        means = []
        for k in (1, 3):
            folds = KFold(2).split(counts)
            fitted = [(clone(est).set_params(n_latent=k).fit(counts[a]), b) for a, b in folds]
            means.append(np.mean([m.score_samples(counts[b]).mean() for m, b in fitted]))
    np.testing.assert_allclose(grid.cv_results_["mean_test_score"], means, rtol=1e-6)
    assert grid.best_params_ == {"n_latent": (1, 3)[int(np.argmax(means))]}


@pytest.mark.parametrize(
    "est",
    [
        biovae.PCA(n_latent=2),
        biovae.VAE(n_latent=2, epochs=1, seed=0),
        biovae.Autoencoder(n_latent=2, epochs=1, seed=0),
    ],
    ids=lambda e: type(e).__name__,
)
def test_cross_val_score_with_default_scoring_is_the_mean_held_out_log_likelihood(est):
    scores = cross_val_score(est, X, cv=2, error_score="raise")
    by_hand = [
        clone(est).fit(X[train]).score_samples(X[test]).mean() for train, test in KFold(2).split(X)
    ]
    np.testing.assert_allclose(scores, by_hand, rtol=1e-6)


def test_cross_val_score_of_the_semi_supervised_vae_is_its_accuracy():
    est = biovae.SemiSupervisedVAE(n_latent=2, epochs=1, seed=0)
    scores = cross_val_score(est, X, Y, cv=2, error_score="raise")
    by_hand = []
    for train, test in StratifiedKFold(2).split(X, Y):
        fitted = clone(est).fit(X[train], Y[train])
        by_hand.append(accuracy_score(Y[test], fitted.predict(X[test])))
    np.testing.assert_allclose(scores, by_hand)


@pytest.mark.parametrize(
    "est",
    [biovae.VAE(n_latent=2, epochs=1, seed=0), biovae.PCA(n_latent=2)],
    ids=lambda e: type(e).__name__,
)
def test_score_is_the_mean_of_score_samples_with_the_same_draws(est):
    fitted = clone(est).fit(X)
    for how in ({}, {"n_samples": 3, "seed": 7}):
        assert fitted.score(X, **how) == fitted.score_samples(X, **how).mean()
    assert fitted.score(X, Y) == fitted.score(X)  # scikit-learn's y: ignored, as by fit
    assert np.isnan(fitted.score(X[:0]))


def test_autoencoder_score_samples_is_the_decoders_gaussian_log_density():
    """log p(x | z = f(x)), by scipy's normal density of the decoder's mean and scale."""
    ae = biovae.Autoencoder(n_latent=2, epochs=1, seed=0).fit(X)
    x = torch.as_tensor(X, dtype=torch.float32)
    with torch.no_grad():
        px = ae.model_.decode(ae.model_.encode(x, None).mean, None, ae.model_.context(x))
    loc, scale = px.base_dist.loc.numpy(), px.base_dist.scale.numpy()
    truth = stats.norm.logpdf(X.astype(np.float32), loc, scale).sum(1)
    np.testing.assert_allclose(ae.score_samples(X), truth, rtol=1e-5)
    assert ae.score(X) == pytest.approx(truth.mean(), rel=1e-5)


def test_a_metadata_table_in_ys_place_is_refused_not_ignored():
    """``score(X, obs)`` was per record with covariates; now y is second: a table there would
    silently drop a conditional model's covariates."""
    pca = biovae.PCA(n_latent=2).fit(X)
    obs = pd.DataFrame({"batch": ["a", "b"] * 30})
    with pytest.raises(ConfigError, match=r"pass it by keyword, score\(X, obs=obs\)"):
        pca.score(X, obs)
    assert pca.score(X, obs=obs) == pca.score(X)


LABELLED = np.where(np.arange(60) % 4 == 0, -1, Y)  # a quarter unlabelled (-1)


@pytest.fixture(scope="module")
def ssvae():
    return biovae.SemiSupervisedVAE(n_latent=2, epochs=2, seed=0).fit(X, LABELLED)


def test_semi_supervised_score_is_the_accuracy_on_the_labelled_records(ssvae):
    known = LABELLED != -1
    truth = accuracy_score(Y[known], ssvae.predict(X)[known])
    assert ssvae.score(X, LABELLED) == pytest.approx(truth)
    wrong = np.where(known, 1 - Y, -1)  # every given label flipped
    assert ssvae.score(X, wrong) == pytest.approx(1 - truth)
    unseen = np.where(known, 7, -1)  # a level the model was not fitted on: never right
    assert ssvae.score(X, unseen) == 0.0
    with pytest.raises(DataError, match="none of the 60 records has a label"):
        ssvae.score(X, np.full(60, -1))
    per_record = ssvae.score_samples(X, seed=3)
    assert per_record.shape == (60,) and np.isfinite(per_record).all()


def test_semi_supervised_score_without_y_reads_the_labels_key_column():
    obs = pd.DataFrame({"cell": np.where(LABELLED == -1, "unknown", LABELLED.astype(str))})
    est = biovae.SemiSupervisedVAE(n_latent=2, epochs=1, seed=0, labels_key="cell")
    est.fit(X, obs)
    known = LABELLED != -1
    truth = accuracy_score(Y[known].astype(str), est.predict(X, obs)[known])
    assert est.score(X, obs=obs) == pytest.approx(truth)
    with pytest.raises(ConfigError, match=r"pass their labels as y \(or obs with column 'cell'\)"):
        est.score(X)


def test_semi_supervised_score_refuses_a_metadata_table_in_ys_place():
    """``ss.fit(X, obs)`` takes the table second, but ``score``'s second argument is y: a table
    there was read as labels, so a covariate column scored every record wrong (accuracy 0.0,
    no error) and two columns were called a one-hot y to argmax."""
    cell = np.where(LABELLED == -1, "unknown", LABELLED.astype(str))
    obs = pd.DataFrame({"cell": cell, "batch": ["a", "b"] * 30})
    est = biovae.SemiSupervisedVAE(n_latent=2, epochs=1, seed=0, labels_key="cell")
    est.fit(X, obs)
    for table in (obs, obs[["batch"]], obs.to_dict("list")):
        with pytest.raises(
            ConfigError,
            match=r"SemiSupervisedVAE\.score\(X, y, obs=\.\.\.\).*"
            r"pass it by keyword, score\(X, obs=obs\)",
        ):
            est.score(X, table)
    assert 0.0 < est.score(X, obs=obs) <= 1.0  # the keyword reads the labels column
    assert est.score(X, obs=obs) == est.score(X, obs["cell"].to_numpy())
