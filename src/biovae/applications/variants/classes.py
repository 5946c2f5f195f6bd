"""Damaging / tolerated / uncertain classes for a single-mutant scan, as EVE makes them.

EVE (Frazer et al. 2021, Nature 599:91) turns a family VAE's scores into classes without labels:
the *evolutionary index* of a substitution is the wild type's ELBO minus the mutant's (here
−Δ ELBO, so higher = less likely under the family = more likely damaging); a two-component
Gaussian mixture is fitted to the indices of every substitution of the protein; the component
with the higher mean is the damaging one, and a substitution's score is its posterior
probability of belonging to it. The substitutions whose class is least certain (highest
predictive entropy of that probability) are set aside as *uncertain*: EVE's headline sets leave
out the 25 % most uncertain.

Differences from EVE, on purpose: one protein at a time (EVE also mixes in a mixture fitted
across 3,000 proteins, which a single family cannot have), and the classes are named
*damaging* / *tolerated*: the model predicts loss of the family's constraints, which for a
human disease gene EVE calls *pathogenic* / *benign*. :func:`bimodality` says how clearly the
indices fall into two groups at all; when they do not, the classes split one population at a
threshold and should be read as a ranking, not as two kinds of mutation. And the probability
never falls as the index rises: with a narrow damaging component beside a wide tolerated one,
Bayes' rule alone gives the most extreme substitutions back to the wide component (a scan's
worst substitution classed *tolerated*), so the posterior is held at its peak past the turning
point of the log-odds (:meth:`Mixture.posterior`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from biovae.errors import ConfigError, DataError

#: Fewest finite indices a mixture is fitted to.
MIN_VALUES = 20
#: EVE's default: the 25 % most uncertain substitutions are classed ``uncertain``.
UNCERTAIN_FRACTION = 0.25
_LOG_2PI = math.log(2.0 * math.pi)


@dataclass(frozen=True)
class Mixture:
    """A two-component 1-D Gaussian mixture; component 1 has the higher mean (damaging)."""

    weights: tuple[float, float]
    means: tuple[float, float]
    sds: tuple[float, float]
    log_likelihood: float  # total over the fitted values
    n: int

    def _log_joint(self, x: np.ndarray) -> np.ndarray:
        w, m, s = (np.asarray(v, dtype=float) for v in (self.weights, self.means, self.sds))
        z = (x[:, None] - m) / s
        return np.log(w) - np.log(s) - 0.5 * (_LOG_2PI + z * z)

    def posterior(self, x: np.ndarray) -> np.ndarray:
        """P(damaging component | index) for every value (NaN stays NaN), held constant past
        the turning point of its log-odds so that it never falls as the index rises.

        With unequal variances the log-odds of the two components is quadratic in the index:
        beyond the narrower component's mean it turns, and Bayes' rule would hand the far tail
        (the most extreme substitutions) back to the wider component. The index is clamped
        at the vertex ``(μ₁σ₀² − μ₀σ₁²) / (σ₀² − σ₁²)`` (which lies outside the two means) on
        the side where the log-odds turns; between the means this is Bayes' rule unchanged."""
        x = np.asarray(x, dtype=float)
        lj = self._log_joint(self._monotone(np.nan_to_num(x)))
        p = np.exp(lj[:, 1] - np.logaddexp(lj[:, 0], lj[:, 1]))
        return np.where(np.isfinite(x), p, np.nan)

    def _monotone(self, x: np.ndarray) -> np.ndarray:
        (m0, m1), (v0, v1) = self.means, (self.sds[0] ** 2, self.sds[1] ** 2)
        if v0 == v1:  # linear log-odds: monotone already
            return x
        vertex = (m1 * v0 - m0 * v1) / (v0 - v1)
        # narrower damaging component: the log-odds peaks above μ₁; wider: it dips below μ₀
        return np.minimum(x, vertex) if v1 < v0 else np.maximum(x, vertex)

    def density(self, x: np.ndarray) -> np.ndarray:
        """(n, 2) weighted component densities w_k N(x; μ_k, σ_k²), for plots."""
        return np.exp(self._log_joint(np.asarray(x, dtype=float)))

    def bic(self) -> float:
        """Bayesian information criterion (5 free parameters)."""
        return 5 * math.log(self.n) - 2.0 * self.log_likelihood


def _em(x: np.ndarray, w, m, v, floor: float, max_iter: int, tol: float):
    """EM from (w, m, v) to convergence: (weights, means, variances, mean log-likelihood)."""
    prev = -np.inf
    for _ in range(max_iter):
        lj = np.log(w) - 0.5 * (np.log(v) + _LOG_2PI + (x[:, None] - m) ** 2 / v)
        norm = np.logaddexp(lj[:, 0], lj[:, 1])
        ll = float(norm.mean())
        r = np.exp(lj - norm[:, None])
        nk = r.sum(axis=0) + 1e-300
        w = np.clip(nk / len(x), 1e-12, None)
        m = (r * x[:, None]).sum(axis=0) / nk
        v = np.maximum((r * (x[:, None] - m) ** 2).sum(axis=0) / nk, floor)
        if ll - prev < tol:
            break
        prev = ll
    lj = np.log(w) - 0.5 * (np.log(v) + _LOG_2PI + (x[:, None] - m) ** 2 / v)
    return w, m, v, float(np.logaddexp(lj[:, 0], lj[:, 1]).mean())


def _starts(x: np.ndarray, n_init: int, seed: int):
    """The quartiles first, then pairs of distinct data points drawn with ``seed``."""
    sd = float(x.std())
    yield np.array([0.5, 0.5]), np.quantile(x, [0.25, 0.75]), np.full(2, (sd / 2) ** 2)
    rng = np.random.default_rng(seed)
    for _ in range(n_init - 1):
        yield np.array([0.5, 0.5]), np.sort(rng.choice(x, 2, replace=False)), np.full(2, sd**2)


def fit_mixture(
    index: np.ndarray, n_init: int = 10, seed: int = 0, max_iter: int = 1000, tol: float = 1e-9
) -> Mixture:
    """Maximum-likelihood two-component Gaussian mixture of the finite values of ``index`` by
    EM from ``n_init`` starts (deterministic for a seed); the best likelihood is kept.

    Raises
    ------
    DataError
        With fewer than :data:`MIN_VALUES` finite values, or when they are all equal.
    """
    x = np.asarray(index, dtype=float)
    x = x[np.isfinite(x)]
    if len(x) < MIN_VALUES:
        raise DataError(
            f"a damaging/tolerated mixture needs at least {MIN_VALUES} scored substitutions, "
            f"got {len(x)}"
        )
    if float(x.std()) == 0.0:
        raise DataError("every substitution has the same score; there is nothing to classify")
    floor = 1e-6 * float(x.var())
    best = None
    for w, m, v in _starts(x, n_init, seed):
        fit = _em(x, w, m, v, floor, max_iter, tol)
        if best is None or fit[3] > best[3]:
            best = fit
    w, m, v, ll = best
    order = np.argsort(m, kind="stable")
    return Mixture(
        weights=tuple(float(a) for a in w[order]),
        means=tuple(float(a) for a in m[order]),
        sds=tuple(float(a) for a in np.sqrt(v[order])),
        log_likelihood=ll * len(x),
        n=len(x),
    )


def bimodality(index: np.ndarray, mixture: Mixture) -> float:
    """ΔBIC of one Gaussian against the mixture on the same values (> 10: strong evidence of
    two groups; ≤ 0: one Gaussian describes the indices as well)."""
    x = np.asarray(index, dtype=float)
    x = x[np.isfinite(x)]
    var = float(x.var())
    one = -0.5 * len(x) * (math.log(var) + _LOG_2PI + 1.0)
    return (2 * math.log(len(x)) - 2.0 * one) - mixture.bic()


def entropy(p: np.ndarray) -> np.ndarray:
    """Predictive entropy (nats) of a binary class probability."""
    q = np.clip(np.asarray(p, dtype=float), 1e-12, 1 - 1e-12)
    return -(q * np.log(q) + (1 - q) * np.log1p(-q))


def check_fraction(uncertain_fraction: float) -> None:
    """Raise :class:`ConfigError` unless the uncertain fraction is in [0, 1)."""
    if not 0.0 <= uncertain_fraction < 1.0:
        raise ConfigError(f"the uncertain fraction must be in [0, 1), not {uncertain_fraction}")


def label(p: np.ndarray, uncertain_fraction: float = UNCERTAIN_FRACTION) -> np.ndarray:
    """``damaging`` (p > 0.5) / ``tolerated``, with the ``uncertain_fraction`` of the finite
    probabilities of highest entropy (ties broken by position) set to ``uncertain``; ``""``
    where p is NaN."""
    check_fraction(uncertain_fraction)
    p = np.asarray(p, dtype=float)
    out = np.where(p > 0.5, "damaging", "tolerated").astype(object)
    finite = np.flatnonzero(np.isfinite(p))
    out[np.setdiff1d(np.arange(len(p)), finite)] = ""
    k = round(uncertain_fraction * len(finite))
    if k:
        most = finite[np.argsort(-entropy(p[finite]), kind="stable")[:k]]
        out[most] = "uncertain"
    return out


@dataclass(frozen=True)
class ScanClasses:
    """The classes of a scan: per-row columns and the mixture behind them."""

    evolutionary_index: np.ndarray
    p_damaging: np.ndarray
    label: np.ndarray
    mixture: Mixture
    delta_bic: float
    uncertain_fraction: float
    #: entropy from which a probability counts as uncertain (the lowest of the scan's uncertain
    #: substitutions; inf when none is): how :func:`classify_more` labels other mutants.
    entropy_threshold: float = math.inf


def classify_scan(
    score: np.ndarray,
    substitution: np.ndarray,
    uncertain_fraction: float = UNCERTAIN_FRACTION,
    seed: int = 0,
) -> ScanClasses:
    """Classes of every row of a scan: ``score`` = Δ ELBO (mutant − wild type), ``substitution``
    = the row changes the wild-type letter. The mixture is fitted to the substitutions only;
    synonymous rows get no probability and the label ``synonymous``."""
    score = np.asarray(score, dtype=float)
    sub = np.asarray(substitution, dtype=bool)
    index = 0.0 - score  # (not -score: a synonymous row reads 0, not -0)
    fit_on = np.where(sub, index, np.nan)
    mixture = fit_mixture(fit_on, seed=seed)
    p = mixture.posterior(fit_on)
    labels = label(p, uncertain_fraction)
    labels[~sub] = "synonymous"
    unsure = labels == "uncertain"
    return ScanClasses(
        evolutionary_index=index,
        p_damaging=p,
        label=labels,
        mixture=mixture,
        delta_bic=bimodality(fit_on, mixture),
        uncertain_fraction=uncertain_fraction,
        entropy_threshold=float(entropy(p[unsure]).min()) if unsure.any() else math.inf,
    )


def classify_more(
    found: ScanClasses, score: np.ndarray, single: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Index, p_damaging and label of other mutants by a scan's mixture and uncertainty
    threshold (EVE classifies a queried variant by its protein's fit). Only single
    substitutions (``single``) get a class; every other row gets NaN and ``""``."""
    index = 0.0 - np.asarray(score, dtype=float)
    keep = np.asarray(single, dtype=bool) & np.isfinite(index)
    p = np.where(keep, found.mixture.posterior(np.where(keep, index, np.nan)), np.nan)
    labels = np.where(p > 0.5, "damaging", "tolerated").astype(object)
    labels[keep & (entropy(p) >= found.entropy_threshold)] = "uncertain"
    labels[~keep] = ""
    return index, p, labels
