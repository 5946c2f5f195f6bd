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

#: Fewest labelled held-out records a temperature is fitted on; with fewer, T = 1.
MIN_RECORDS = 10
#: T is searched in [1/20, 20] (log-space bounds ±3): beyond, the records say too little.
_LOG_BOUND = 3.0


def nll(logits: np.ndarray, y: np.ndarray, temperature: float = 1.0) -> float:
    """Mean −log softmax(logits / T)[y] over the records (logits (n, classes), y (n,))."""
    logp = log_softmax(np.asarray(logits, np.float64) / temperature, axis=1)
    return float(-logp[np.arange(len(y)), np.asarray(y)].mean())


def fit_temperature(logits: np.ndarray, y: np.ndarray) -> float:
    """The T minimising :func:`nll` on ``(logits, y)``; 1.0 with fewer than
    :data:`MIN_RECORDS` records."""
    if len(y) < MIN_RECORDS:
        return 1.0
    found = minimize_scalar(
        lambda t: nll(logits, y, float(np.exp(t))),
        bounds=(-_LOG_BOUND, _LOG_BOUND),
        method="bounded",
        options={"xatol": 1e-6},
    )
    return float(np.exp(found.x))


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
