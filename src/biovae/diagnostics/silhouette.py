"""Silhouette widths of every record, computed a block of rows at a time (memory ∝ records)."""

from __future__ import annotations

import numpy as np

#: Bytes of pairwise distances a silhouette holds at once (a block of rows × all records).
DISTANCE_BLOCK_BYTES = 64 * 2**20


def silhouette_samples(x: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Silhouette width (b − a) / max(a, b) of each record of ``x`` (n, d), its cluster given
    by integer ``codes`` (n,): a is its mean Euclidean distance to the other records of its
    cluster, b the smallest mean distance to the records of another cluster; 0 for a record
    alone in its cluster or where a = b = 0 (as scikit-learn's ``silhouette_samples``).

    Every pair is compared (time grows with n²), but the distances are made a block of rows
    at a time (``DISTANCE_BLOCK_BYTES``) and summed per cluster at once, so memory grows
    with n, not n².
    """
    order = np.argsort(codes, kind="stable")  # clusters as contiguous column ranges
    xs, cs = x[order], np.unique(codes[order], return_inverse=True)[1].ravel()
    sizes = np.bincount(cs).astype(np.float64)
    starts = np.concatenate([[0], np.cumsum(np.bincount(cs))[:-1]])
    n, rows = len(xs), max(1, DISTANCE_BLOCK_BYTES // (8 * len(xs)))
    sums, sq, minus_2xt = np.empty((n, len(sizes))), np.einsum("ij,ij->i", xs, xs), -2.0 * xs.T
    for i in range(0, n, rows):
        d = _distances(xs[i : i + rows], minus_2xt, sq, i)
        sums[i : i + rows] = np.add.reduceat(d, starts, axis=1)
    own = np.arange(n), cs
    with np.errstate(divide="ignore", invalid="ignore"):
        a = sums[own] / (sizes[cs] - 1.0)
        sums /= sizes
        sums[own] = np.inf
        b = sums.min(1)
        s = np.nan_to_num((b - a) / np.maximum(a, b))
    out = np.empty(n)
    out[order] = s
    return out


def _distances(block: np.ndarray, minus_2xt: np.ndarray, sq: np.ndarray, start: int) -> np.ndarray:
    """Euclidean distances (rows, n) of ``block`` — records start, start + 1, … — to all n
    records (``minus_2xt`` = −2·xᵀ, ``sq`` their squared norms), as scikit-learn's
    ``euclidean_distances`` makes them (−2·x·y + |x|² + |y|², clipped at 0), and exactly 0 from
    a record to itself."""
    d = block @ minus_2xt
    d += sq[start : start + len(block), None]
    d += sq
    np.maximum(d, 0.0, out=d)
    d[np.arange(len(d)), np.arange(start, start + len(d))] = 0.0
    return np.sqrt(d, out=d)
