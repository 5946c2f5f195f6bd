"""Sequence weights of an alignment: down-weight clusters of near-identical sequences.

w_i = 1 / |{j : id(i, j) ≥ 1 − θ}|, with id(i, j) = (positions where i and j carry the same
non-gap letter) / (non-gap positions of i), as in DeepSequence and EVE (they use ``>``; we use
``≥`` as the issue asks, which differs only on exact ties). Every sequence is its own neighbour,
so 0 < w_i ≤ 1. The effective number of sequences is Neff = Σ_i w_i.

The identity counts are one-hot matrix products computed block by block (memory bounded by the
block size, not by n²), each block only once thanks to symmetry. One-hot entries are 0/1 and
every partial product covers at most 256 positions, so bfloat16 inputs give exact integer
counts (bfloat16 holds integers up to 256 exactly); partial counts are summed in float32.
"""

from __future__ import annotations

import numpy as np
import torch

#: Positions per bfloat16 partial product: counts ≤ 256 are exact in bfloat16.
_EXACT_SPAN = 256


def identity_threshold(n_residues: np.ndarray, theta: float) -> np.ndarray:
    """Minimum number of identical residues for a neighbour of each sequence (float64)."""
    return (1.0 - theta) * n_residues.astype(np.float64)


def _one_hot(codes: np.ndarray, gap: int | None, n_letters: int) -> torch.Tensor:
    """``(n, l·a)`` bfloat16 one-hot of letter codes; the gap letter gets no channel."""
    t = torch.from_numpy(codes.astype(np.int64))
    oh = torch.nn.functional.one_hot(t, n_letters)
    if gap is not None:
        oh = oh[..., [a for a in range(n_letters) if a != gap]]
    return oh.reshape(len(codes), -1).to(torch.bfloat16)


def _block_matches(a: np.ndarray, b: np.ndarray, gap: int | None, n_letters: int) -> torch.Tensor:
    """Exact identical-residue counts between the rows of ``a`` and ``b``, float32 ``(na, nb)``."""
    out = torch.zeros(len(a), len(b), dtype=torch.float32)
    for start in range(0, a.shape[1], _EXACT_SPAN):
        cols = slice(start, start + _EXACT_SPAN)
        oa = _one_hot(a[:, cols], gap, n_letters)
        ob = oa if b is a else _one_hot(b[:, cols], gap, n_letters)
        out += (oa @ ob.T).float()
    return out


def neighbour_counts(
    codes: np.ndarray, gap: int | None, n_letters: int, theta: float = 0.2, block: int = 2048
) -> np.ndarray:
    """Number of sequences within identity ≥ 1 − θ of each sequence (itself included).

    Parameters
    ----------
    codes
        ``(n, L)`` integer letter codes.
    gap
        Code of the gap letter (ignored in identities), or None.
    n_letters
        Alphabet size including the gap.
    theta
        Identity cut-off 1 − θ; θ = 0.2 counts sequences ≥ 80 % identical.
    block
        Rows per block; peak memory is O(block · (L·a + block)).
    """
    codes = np.ascontiguousarray(codes)
    n = len(codes)
    residues = (codes != gap).sum(1) if gap is not None else np.full(n, codes.shape[1])
    thr = torch.from_numpy(identity_threshold(residues, theta))
    counts = torch.zeros(n, dtype=torch.float64)
    for i in range(0, n, block):
        a = codes[i : i + block]
        for j in range(i, n, block):
            b = a if j == i else codes[j : j + block]
            m = _block_matches(a, b, gap, n_letters).double()
            counts[i : i + len(a)] += (m >= thr[i : i + len(a), None]).sum(1)
            if j > i:
                counts[j : j + len(b)] += (m >= thr[None, j : j + len(b)]).sum(0)
    # a sequence with no residues has identity 0/0 to everything; count only itself
    counts[torch.from_numpy(residues == 0)] = 1.0
    return counts.numpy()


def sequence_weights(
    codes: np.ndarray, gap: int | None, n_letters: int, theta: float = 0.2, block: int = 2048
) -> np.ndarray:
    """w_i = 1 / neighbour count (see :func:`neighbour_counts`)."""
    return 1.0 / neighbour_counts(codes, gap, n_letters, theta, block)


def naive_sequence_weights(codes: np.ndarray, gap: int | None, theta: float = 0.2) -> np.ndarray:
    """Reference implementation by a double loop over pairs (for tests on small alignments)."""
    n = len(codes)
    weights = np.empty(n)
    for i in range(n):
        own = codes[i] != gap if gap is not None else np.ones(codes.shape[1], bool)
        thr = (1.0 - theta) * float(own.sum())
        if not own.any():
            weights[i] = 1.0
            continue
        neighbours = sum(int(((codes[i] == codes[j]) & own).sum()) >= thr for j in range(n))
        weights[i] = 1.0 / neighbours
    return weights
