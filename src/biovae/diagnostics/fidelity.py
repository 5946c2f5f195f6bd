"""Generative fidelity: do samples from the prior look like held-out data?

* Sequences: Pearson correlation of single-site letter frequencies f_i(a) and of pairwise
  covariances C_ij(a, b) = f_ij(a, b) − f_i(a) f_j(b) (i < j) between samples and held-out
  natural sequences.
* Continuous and count data: a classifier two-sample test (cross-validated ROC AUC of a
  classifier telling samples from data; 0.5 = indistinguishable, 1 = trivially separable) and
  the unbiased squared maximum mean discrepancy with a Gaussian kernel (median heuristic).

Count data are compared on log1p scale so a few large counts do not dominate. Each side needs
at least :data:`MIN_RECORDS` records (the classifier test uses min(5, records per side) folds).
"""

from __future__ import annotations

import numpy as np

from biovae.errors import DataError, require

#: Records each side (data and samples) needs for the classifier test and the unbiased MMD².
MIN_RECORDS = 2


def check_sizes(n_real: int, n_fake: int) -> None:
    """A one-line DataError unless both sides have at least :data:`MIN_RECORDS` records."""
    if min(n_real, n_fake) < MIN_RECORDS:
        raise DataError(
            f"fidelity needs at least {MIN_RECORDS} records on each side, got {n_real} data "
            f"records and {n_fake} samples; compare more records"
        )


def site_frequencies(codes: np.ndarray, n_letters: int) -> np.ndarray:
    """Letter frequencies per position, shape (L, A), of integer codes (n, L)."""
    onehot = np.eye(n_letters, dtype=np.float64)[codes.astype(int)]
    return onehot.mean(0)


def pair_covariances(codes: np.ndarray, n_letters: int) -> np.ndarray:
    """Upper-triangle (i < j) pairwise covariances C_ij(a, b), flattened."""
    n, length = codes.shape
    x = np.eye(n_letters, dtype=np.float32)[codes.astype(int)].reshape(n, -1)
    f1 = x.mean(0)
    cov = (x.T @ x) / n - np.outer(f1, f1)
    cov = cov.reshape(length, n_letters, length, n_letters)
    i, j = np.triu_indices(length, k=1)
    return cov[i, :, j, :].ravel()


def sequence_fidelity(real: np.ndarray, fake: np.ndarray, n_letters: int) -> dict[str, float]:
    """Correlations of site frequencies and pair covariances, samples vs data; NaN (null in
    the JSON) where a side does not vary, e.g. every pair covariance 0 with one variable
    position, without numpy's warning."""
    with np.errstate(invalid="ignore", divide="ignore"):
        r1 = np.corrcoef(
            site_frequencies(real, n_letters).ravel(), site_frequencies(fake, n_letters).ravel()
        )[0, 1]
        r2 = np.corrcoef(pair_covariances(real, n_letters), pair_covariances(fake, n_letters))
        r2 = r2[0, 1]
    return {"site_frequency_r": float(r1), "pair_covariance_r": float(r2)}


def classifier_auc(real: np.ndarray, fake: np.ndarray, seed: int = 0, folds: int = 5) -> float:
    """Cross-validated ROC AUC of a gradient-boosted classifier separating fake from real
    (the first min(len(real), len(fake)) = n of each; min(``folds``, n) stratified folds)."""
    check_sizes(len(real), len(fake))
    ensemble = require("sklearn.ensemble", "report")
    model_selection = require("sklearn.model_selection", "report")
    n = min(len(real), len(fake))
    x = np.vstack([real[:n], fake[:n]])
    y = np.r_[np.zeros(n), np.ones(n)]
    # the default min_samples_leaf=20 cannot split at all on a few dozen records (AUC = 0.5
    # whatever the samples look like), so small comparisons get smaller leaves
    clf = ensemble.HistGradientBoostingClassifier(
        max_iter=100, min_samples_leaf=max(5, min(20, n // 10)), random_state=seed
    )
    cv = model_selection.StratifiedKFold(min(folds, n), shuffle=True, random_state=seed)
    return float(model_selection.cross_val_score(clf, x, y, cv=cv, scoring="roc_auc").mean())


def mmd2(real: np.ndarray, fake: np.ndarray, max_records: int = 2000, seed: int = 0) -> float:
    """Unbiased MMD² with the Gaussian kernel exp(−‖a − b‖² / m), m the median squared
    pairwise distance (a bandwidth σ = sqrt(m / 2) in exp(−d² / 2σ²))."""
    check_sizes(len(real), len(fake))
    rng = np.random.default_rng(seed)
    a = _subsample(real, max_records, rng)
    b = _subsample(fake, max_records, rng)
    both = np.vstack([a, b])
    d2 = _sq_dists(both, both)
    bandwidth = np.median(d2[np.triu_indices(len(both), k=1)])
    k = np.exp(-d2 / max(bandwidth, 1e-12))
    m, n = len(a), len(b)
    kxx, kyy, kxy = k[:m, :m], k[m:, m:], k[:m, m:]
    return float(
        (kxx.sum() - np.trace(kxx)) / (m * (m - 1))
        + (kyy.sum() - np.trace(kyy)) / (n * (n - 1))
        - 2 * kxy.mean()
    )


def table_fidelity(
    real: np.ndarray, fake: np.ndarray, counts: bool, seed: int = 0
) -> dict[str, float]:
    """Classifier AUC and MMD² of samples vs data (log1p scale for counts)."""
    real = np.asarray(real, dtype=np.float64).reshape(len(real), -1)
    fake = np.asarray(fake, dtype=np.float64).reshape(len(fake), -1)
    if counts:
        real, fake = np.log1p(real), np.log1p(fake)
    scale = real.std(0) + 1e-8
    centre = real.mean(0)
    real, fake = (real - centre) / scale, (fake - centre) / scale
    return {"classifier_auc": classifier_auc(real, fake, seed), "mmd2": mmd2(real, fake, seed=seed)}


def _subsample(x: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    return x if len(x) <= n else x[rng.choice(len(x), n, replace=False)]


def _sq_dists(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    d = (a**2).sum(1)[:, None] + (b**2).sum(1)[None] - 2 * a @ b.T
    return np.maximum(d, 0.0)
