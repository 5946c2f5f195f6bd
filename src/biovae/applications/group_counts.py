"""Raw count summaries of groups of records, read in one pass over the matrix.

Per level of a grouping column and per feature: the mean count, the share of records with a
nonzero count and the mean counts per 10,000 (each record scaled to a library of 10,000).
Any union of levels — a group, "all other records" — is summarised from the per-level sums
without touching the data again, and the matrix is read block by block, so data left on disk
(:class:`~biovae.data.ondisk.RowStore`) are never loaded whole.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

LIBRARY_SIZE = 1e4
BLOCK_ROWS = 4096


@dataclass(frozen=True)
class LevelSums:
    """``n[l]`` records of level ``l`` and their per-feature sums, each ``(levels, features)``:
    counts, nonzero indicators and counts per 10,000."""

    levels: tuple[str, ...]
    n: np.ndarray
    counts: np.ndarray
    nonzero: np.ndarray
    normalised: np.ndarray

    def summary(self, chosen: Sequence[str]) -> dict[str, np.ndarray]:
        """``raw_mean``, ``non_zeros_proportion`` and ``raw_normalized_mean`` of the records
        whose level is in ``chosen``."""
        rows = [self.levels.index(str(level)) for level in chosen]
        n = max(float(self.n[rows].sum()), 1.0)
        return {
            "raw_mean": self.counts[rows].sum(0) / n,
            "non_zeros_proportion": self.nonzero[rows].sum(0) / n,
            "raw_normalized_mean": self.normalised[rows].sum(0) / n,
        }


def level_sums(x: Any, labels: np.ndarray) -> LevelSums:
    """Per-level sums of ``x`` (dense, CSR or on disk) for string ``labels`` (one per row;
    ``""`` = no level, left out)."""
    labels = np.asarray([str(v) for v in labels], dtype=object)
    levels = tuple(sorted(set(labels) - {""}))
    code = {lv: i for i, lv in enumerate(levels)}
    codes = np.array([code.get(v, -1) for v in labels])
    shape = (len(levels), x.shape[1])
    counts, nonzero, normalised = (np.zeros(shape) for _ in range(3))
    for start, block in _blocks(x):
        c = codes[start : start + block.shape[0]]
        keep = c >= 0
        onehot = sp.csr_matrix(
            (np.ones(int(keep.sum())), (c[keep], np.flatnonzero(keep))),
            shape=(len(levels), block.shape[0]),
        )
        block = sp.csr_matrix(block, dtype=np.float64)
        lib = np.maximum(np.asarray(block.sum(axis=1)).ravel(), 1.0)
        counts += (onehot @ block).toarray()
        nonzero += (onehot @ (block != 0).astype(np.float64)).toarray()
        normalised += (onehot @ sp.diags(LIBRARY_SIZE / lib) @ block).toarray()
    n = np.bincount(codes[codes >= 0], minlength=len(levels)).astype(np.float64)
    return LevelSums(levels, n, counts, nonzero, normalised)


def _blocks(x: Any) -> Iterator[tuple[int, Any]]:
    if hasattr(x, "blocks"):  # a RowStore: read from disk in its own blocks
        yield from x.blocks()
        return
    for start in range(0, x.shape[0], BLOCK_ROWS):
        yield start, x[start : start + BLOCK_ROWS]
