"""Per-dimension tests of the confounding audit: is a latent dimension associated with a
covariate beyond chance?

Kruskal–Wallis across the levels of a categorical covariate (the Mann–Whitney test for two
levels), Spearman's test for a number; one p-value per latent dimension. Records of one
subject are not independent (pseudo-replication: 5 samples of 30 subjects are not 150
observations), so with groups the tests compare group means instead
(:func:`~biovae.diagnostics.confounding_groups.group_means`): each group, or for levels each
group and level it holds, counts once.
"""

from __future__ import annotations

import numpy as np

from biovae.diagnostics.confounding_groups import group_means


def dimension_p_values(
    z: np.ndarray, values: np.ndarray, categorical: bool, groups: np.ndarray | None = None
) -> tuple[list[float], int]:
    """The p-value of each latent dimension of ``z`` (n, k) against ``values`` (n,) — levels
    when ``categorical``, else numbers — and the number of units tested: the records, or
    with ``groups`` (n,) the group means."""
    from scipy.stats import kruskal, spearmanr

    if groups is not None:
        z, values = group_means(z, values, groups, categorical)
    if categorical:
        cut = [values == lv for lv in np.unique(values)]
        p = [_kruskal_p(kruskal, [z[c, k] for c in cut]) for k in range(z.shape[1])]
    else:
        p = [float(spearmanr(z[:, k], values).pvalue) for k in range(z.shape[1])]
    return p, int(z.shape[0])


def _kruskal_p(kruskal, samples: list[np.ndarray]) -> float:
    """Kruskal–Wallis p-value, 1 where it is undefined (every value tied)."""
    try:
        return float(kruskal(*samples).pvalue)
    except ValueError:  # "All numbers are identical"
        return 1.0
