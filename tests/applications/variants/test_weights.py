"""Sequence weights: the blocked dense-int8 + sparse product version equals a naive double loop."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from biovae.applications.variants.alignment import read_alignment
from biovae.applications.variants.weights import (
    naive_sequence_weights,
    neighbour_counts,
    sequence_weights,
)


def clustered(n: int, length: int, seed: int = 0, gap: int = 20) -> np.ndarray:
    """Mutated copies of a few ancestors (with gaps), so identities straddle the cut-off."""
    rng = np.random.default_rng(seed)
    anc = rng.integers(0, 20, (5, length))
    codes = anc[rng.integers(0, 5, n)]
    rate = rng.uniform(0.0, 0.4, (n, 1))
    hit = rng.random(codes.shape) < rate
    codes[hit] = rng.integers(0, 21, int(hit.sum()))
    codes[:3, : length // 2] = gap  # a few half-gapped rows
    return codes.astype(np.uint8)


@pytest.mark.parametrize("theta", [0.2, 0.35])
@pytest.mark.parametrize("block", [7, 64])
def test_blocked_equals_naive(theta, block):
    codes = clustered(60, 40)
    fast = sequence_weights(codes, 20, 21, theta, block=block)
    assert np.array_equal(fast, naive_sequence_weights(codes, 20, theta))


@pytest.mark.parametrize("divisor", [1, 4, 10**9])
def test_any_dense_sparse_split_is_exact(divisor):
    """All-rare (1), mixed (4) and all-dense (10⁹) feature splits give the same counts."""
    codes = clustered(50, 300, seed=1)
    fast = neighbour_counts(codes, 20, 21, 0.2, block=8, dense_divisor=divisor)
    assert np.array_equal(1.0 / fast, naive_sequence_weights(codes, 20, 0.2))


def test_float_fallback_without_int8_kernel(monkeypatch):
    def missing(*_):
        raise RuntimeError("no int8 kernel")

    monkeypatch.setattr(torch, "_int_mm", missing)
    codes = clustered(40, 80, seed=2)
    fast = sequence_weights(codes, 20, 21, 0.2, block=16)
    assert np.array_equal(fast, naive_sequence_weights(codes, 20, 0.2))


def test_known_small_case():
    codes = np.array([[0, 1, 2, 3, 4], [0, 1, 2, 3, 4], [5, 6, 7, 8, 9], [20, 20, 20, 20, 20]])
    # rows 0 and 1 are identical; row 3 has no residues and only counts itself
    assert neighbour_counts(codes, 20, 21, 0.2).tolist() == [2, 2, 1, 1]
    assert sequence_weights(codes, 20, 21, 0.2).tolist() == [0.5, 0.5, 1.0, 1.0]


def test_identity_ignores_gap_matches():
    # 4 of 5 positions are shared gaps: identity counts residues only (1 of 1 vs 1 of 1)
    a = np.array([[0, 20, 20, 20, 20], [1, 20, 20, 20, 20]])
    assert sequence_weights(a, 20, 21, 0.2).tolist() == [1.0, 1.0]


def test_fixture_alignment(fixtures):
    aln = read_alignment(fixtures / "blat_ecolx_first40.a2m")
    fast = sequence_weights(aln.codes, aln.gap, len(aln.alphabet), 0.2, block=16)
    assert np.array_equal(fast, naive_sequence_weights(aln.codes, aln.gap, 0.2))


@pytest.mark.parametrize("n_records", [4, 200])
def test_a_family_with_one_common_feature_gets_exact_weights(n_records):
    # one (column, letter) feature shared by every record: an inner dimension of 1, where
    # torch's CPU int8 product returned uninitialised memory (inf weights, a new answer per run)
    codes = np.zeros((n_records, 1), np.uint8)
    for _ in range(3):
        weights = sequence_weights(codes, gap=20, n_letters=21)
        np.testing.assert_array_equal(weights, naive_sequence_weights(codes, 20, 0.2))
        np.testing.assert_allclose(weights, 1.0 / n_records)
