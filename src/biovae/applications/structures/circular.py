"""Statistics of angles on the circle (degrees): mean resultant vectors and Wasserstein-1.

Torsion angles live on a circle: −179° and +179° are 2° apart, not 358°, so the linear tools
(means, :func:`scipy.stats.wasserstein_distance`) do not apply to them.
"""

from __future__ import annotations

import numpy as np


def mean_resultant(angles_deg: np.ndarray, axis: int = 0) -> np.ndarray:
    """Mean of the unit vectors e^{iθ} along ``axis`` (complex).

    Its argument is the circular mean θ̄ and its modulus the mean resultant length R ∈ [0, 1]:
    1 when all angles agree, near 0 when they are spread round the circle.
    """
    return np.exp(1j * np.radians(np.asarray(angles_deg, dtype=np.float64))).mean(axis)


def circular_w1(u_deg: np.ndarray, v_deg: np.ndarray) -> float:
    """Wasserstein-1 distance (degrees, arc length) between two samples of angles on the circle.

    On a circle of length 360, W₁(μ, ν) = min_α ∫₀³⁶⁰ |F_μ(θ) − F_ν(θ) − α| dθ with F the
    cumulative distributions from 0° (Rabin, Delon & Gousseau 2011); the best α is a median of
    F_μ − F_ν weighted by arc length. Exact for the empirical distributions, O((n + m) log(n + m)).
    It is at most the linear W₁ on [0°, 360°) (α = 0) and at most 180°.
    """
    u = np.sort(np.mod(np.asarray(u_deg, dtype=np.float64).ravel(), 360.0))
    v = np.sort(np.mod(np.asarray(v_deg, dtype=np.float64).ravel(), 360.0))
    if u.size == 0 or v.size == 0:
        raise ValueError("circular_w1 needs at least one angle in each sample")
    x = np.concatenate([u, v])
    x.sort()
    # F_u − F_v is constant on [x_k, x_{k+1}); on the wrap-around arc [x_last, 360) ∪ [0, x_0)
    # both distributions are complete (or empty), so the difference there is 0.
    diff = np.searchsorted(u, x, "right") / u.size - np.searchsorted(v, x, "right") / v.size
    diff[-1] = 0.0
    length = np.append(np.diff(x), 360.0 - x[-1])
    length[-1] += x[0]
    return float((length * np.abs(diff - _weighted_median(diff, length))).sum())


def _weighted_median(values: np.ndarray, weights: np.ndarray) -> float:
    """A minimiser of Σ wᵢ |vᵢ − α| over α."""
    order = np.argsort(values, kind="stable")
    cumulative = np.cumsum(weights[order])
    return float(values[order][np.searchsorted(cumulative, cumulative[-1] / 2)])
