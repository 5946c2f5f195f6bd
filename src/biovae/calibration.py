"""Temperature scaling of class probabilities (Guo et al. 2017, "On calibration of modern
neural networks"): one scalar T > 0 divides a classifier's logits, fitted to minimise the
negative log-likelihood of labelled records the classifier did not train on. It leaves every
record's most likely class, and the ranking of records by a two-class probability, as they
were; it only makes the probabilities say how often they are right.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import log_softmax

#: Fewest labelled held-out records (of positive weight) a temperature is fitted on; with
#: fewer, or all of one class, T = 1.
MIN_RECORDS = 10
#: T is searched in [1/20, 20] (log-space bounds ±3): beyond, the records say too little.
_LOG_BOUND = 3.0


def nll(
    logits: np.ndarray,
    y: np.ndarray,
    temperature: float = 1.0,
    weights: np.ndarray | None = None,
) -> float:
    """Mean −log softmax(logits / T)[y] over the records (logits (n, classes), y (n,)),
    weighted by ``weights`` (n,) when given."""
    logp = log_softmax(np.asarray(logits, np.float64) / temperature, axis=1)
    return float(np.average(-logp[np.arange(len(y)), np.asarray(y)], weights=weights))


def can_fit(y: np.ndarray, weights: np.ndarray | None = None) -> bool:
    """Whether labels ``y`` (with record ``weights``) can fix a temperature: at least
    :data:`MIN_RECORDS` records of positive weight, of at least two classes. Records of one
    class alone say how likely that class is, not how sharp the probabilities should be: T
    would follow the classifier's bias for or against it (to a bound of the search)."""
    y = np.asarray(y)
    if weights is not None:
        y = y[np.asarray(weights) > 0]
    return len(y) >= MIN_RECORDS and len(np.unique(y)) >= 2


def fit_temperature(logits: np.ndarray, y: np.ndarray, weights: np.ndarray | None = None) -> float:
    """The T minimising :func:`nll` on ``(logits, y, weights)``; 1.0 unless :func:`can_fit`."""
    if not can_fit(y, weights):
        return 1.0
    found = minimize_scalar(
        lambda t: nll(logits, y, float(np.exp(t)), weights),
        bounds=(-_LOG_BOUND, _LOG_BOUND),
        method="bounded",
        options={"xatol": 1e-6},
    )
    return float(np.exp(found.x))


def at_bound(temperature: float) -> bool:
    """Whether a fitted T sits at an edge of the search range (within 1 %)."""
    return abs(abs(float(np.log(temperature))) - _LOG_BOUND) < 0.01


def probabilities(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """softmax(logits / T), float64."""
    return np.exp(log_softmax(np.asarray(logits, np.float64) / temperature, axis=1))


def expected_calibration_error(proba: np.ndarray, y: np.ndarray, bins: int = 10) -> float:
    """Σ_b (n_b / n) |accuracy_b − confidence_b| over equal-width bins of the top probability."""
    top, hit = proba.max(1), proba.argmax(1) == np.asarray(y)
    which = np.minimum((top * bins).astype(int), bins - 1)
    return float(
        sum(abs(hit[which == b].mean() - top[which == b].mean()) * (which == b).mean()
            for b in range(bins) if (which == b).any())
    )  # fmt: skip
