"""Sequence weights: the blocked dense-int8 + sparse product version equals a naive double loop."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
import torch

from biovae.applications.variants.alignment import read_alignment
from biovae.applications.variants.weights import (
    naive_sequence_weights,
    neighbour_counts,
    sequence_weights,
)
from biovae.data.sequences import PROTEIN


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
    # rows 0 and 1 are identical; row 3 has no residues: it only counts itself, but carries no
    # information and weighs 0 (as in EVE), so Neff = 1/2 + 1/2 + 1
    assert neighbour_counts(codes, 20, 21, 0.2).tolist() == [2, 2, 1, 1]
    assert sequence_weights(codes, 20, 21, 0.2).tolist() == [0.5, 0.5, 1.0, 0.0]
    assert naive_sequence_weights(codes, 20, 0.2).tolist() == [0.5, 0.5, 1.0, 0.0]


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


def exact_weights(codes: np.ndarray, gap: int, theta: str) -> list[float]:
    """By hand: w_i = 1 / #{j : shared residues / residues of i ≥ 1 − θ} in exact fractions
    (θ as written); a row without residues weighs 0."""
    cut = 1 - Fraction(theta)
    out = []
    for a in codes:
        own = [k for k, c in enumerate(a) if c != gap]
        if not own:
            out.append(0.0)
            continue
        same = (sum(b[k] == a[k] for k in own) for b in codes)
        out.append(1.0 / sum(Fraction(m, len(own)) >= cut for m in same))
    return out


@pytest.mark.parametrize(
    ("theta", "residues", "shared"), [("0.7", 10, 3), ("0.19", 300, 243), ("0.18", 150, 123)]
)
def test_a_neighbour_exactly_at_the_cut_off_counts_whatever_theta(theta, residues, shared):
    # 1 − 0.7 is 0.30000000000000004 in floats: 3 of 10 residues (exactly 30 %) were shut out
    a = np.arange(residues) % 20
    b = a.copy()
    b[shared:] = (b[shared:] + 1) % 20  # shares exactly `shared` residues with a
    codes = np.stack([a, b, (a + 2) % 20]).astype(np.uint8)
    assert exact_weights(codes, 20, theta) == [0.5, 0.5, 1.0]
    assert sequence_weights(codes, 20, 21, float(theta)).tolist() == [0.5, 0.5, 1.0]
    assert naive_sequence_weights(codes, 20, float(theta)).tolist() == [0.5, 0.5, 1.0]
    b[shared - 1] = (b[shared - 1] + 1) % 20  # one residue fewer: below the cut-off
    codes[1] = b
    assert sequence_weights(codes, 20, 21, float(theta)).tolist() == [1.0, 1.0, 1.0]


def test_identity_is_over_the_residues_of_one_sequence():
    # by hand: a vs b shares 7 of a's 10 residues (no), b vs a 7 of b's 7 (yes); d vs b 5/5
    # (yes), b vs d 5/7 (no); b and c share 3 gaps, which are no match (else b, d ≥ 80 %)
    a, b, c, d = "ACDEFGHIKL", "ACDEFGH---", "ACDEFGH---", "ACDEF-----"
    codes = np.array([[PROTEIN.index(x) for x in s] for s in (a, b, c, d)], np.uint8)
    want = [1.0, 1 / 3, 1 / 3, 1 / 4]
    assert exact_weights(codes, 20, "0.2") == want
    assert sequence_weights(codes, 20, 21, 0.2, block=3).tolist() == want


@pytest.mark.parametrize("theta", ["0.2", "0.7", "0.19"])
@pytest.mark.parametrize(("n", "block"), [(1, 4), (5, 4), (8, 4), (9, 4), (23, 7), (23, 2048)])
def test_blocked_equals_exact_reference_at_block_edges(theta, n, block):
    codes = clustered(max(n, 3), 25, seed=n)[:n]  # three half-gapped rows when n ≥ 3
    if n > 4:
        codes[4], codes[-1] = codes[3], 20  # a duplicate and a row of gaps only
    fast = sequence_weights(codes, 20, 21, float(theta), block=block)
    assert fast.tolist() == exact_weights(codes, 20, theta)


def test_insert_columns_are_no_part_of_the_identity(tmp_path):
    # a DNA A2M: focus and s1 differ only in insert (lower case) columns; by hand, at θ = 0.2:
    # focus ~ s1 ~ s2 (≥ 10/11), s3 alone (6/11), s4 (5 residues) has all of them ≥ 4/5,
    # s5 has no residue (kept with max_gap_fraction 1): no one's neighbour, and it weighs 0
    rows = ["ACGTAcgtACGTAC", "ACGTAaaaACGTAC", "ACGTA...ACGTTC", "ACGTT...GGTTCC"]
    rows += ["ACGTAttt------", "-----...------"]
    text = "".join(f">{name}\n{row}\n" for name, row in zip("fabcde", rows))
    (tmp_path / "family.a2m").write_text(text)
    aln = read_alignment(tmp_path / "family.a2m", max_gap_fraction=1.0)
    assert aln.alphabet == "ACGT-" and aln.codes.shape == (6, 11)
    weights = sequence_weights(aln.codes, aln.gap, len(aln.alphabet), 0.2)
    assert weights.tolist() == [1 / 3, 1 / 3, 1 / 3, 1.0, 1 / 5, 0.0]
