"""Kabsch superposition, RMSD and validity metrics against known answers."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from biovae.applications.structures.geometry import (
    align_frames,
    kabsch,
    nearest_rmsd,
    rmsd,
    rmsd_matrix,
    superpose,
)
from biovae.applications.structures.validity import (
    assess,
    clash_counts,
    passes,
    radius_of_gyration,
    virtual_angles,
    virtual_bonds,
)


def points(n=20, seed=0):
    return np.random.default_rng(seed).normal(scale=5.0, size=(n, 3))


def test_kabsch_recovers_a_known_rotation_and_translation():
    x = points()
    rot = Rotation.from_euler("zyx", [40, -25, 70], degrees=True).as_matrix()
    y = x @ rot.T + np.array([3.0, -1.0, 7.5])
    r, _, _ = kabsch(x, y)
    np.testing.assert_allclose(r, rot, atol=1e-10)
    np.testing.assert_allclose(superpose(x, y), y, atol=1e-10)
    assert rmsd(x, y) == pytest.approx(0.0, abs=1e-6)


def test_kabsch_never_reflects():
    x = points()
    mirror = x * np.array([1.0, 1.0, -1.0])
    r, _, _ = kabsch(x, mirror)
    assert np.linalg.det(r) == pytest.approx(1.0)
    assert rmsd(x, mirror) > 1.0  # a mirror image is not superposable


def test_rmsd_of_identical_frames_is_zero_and_of_a_shift_is_the_shift():
    x = points()
    assert rmsd(x, x) == pytest.approx(0.0, abs=1e-6)
    # one atom displaced by d (after centring the rest cannot follow): RMSD ≤ d/sqrt(n)
    y = x.copy()
    y[0] += np.array([0.0, 0.0, 2.0])
    assert 0 < rmsd(x, y) <= 2.0 / np.sqrt(len(x)) + 1e-9


def test_batched_rmsd_matches_explicit_superposition():
    a, b = points(seed=1), points(seed=2)
    explicit = np.sqrt(((superpose(a, b) - b) ** 2).sum(-1).mean())
    assert rmsd(a, b) == pytest.approx(explicit, rel=1e-9)
    frames = np.stack([points(seed=s) for s in range(5)])
    near = nearest_rmsd(frames[:2] + 0.0, frames)
    np.testing.assert_allclose(near, 0.0, atol=1e-6)
    aligned = align_frames(frames, frames[0])
    assert rmsd(aligned[3], frames[3]) == pytest.approx(0.0, abs=1e-4)


def test_rmsd_takes_reversed_views_of_frames():
    """``frames[::-1]`` (a trajectory read backwards) is a numpy view with negative strides,
    which torch refuses without a copy."""
    frames = np.stack([points(seed=s) for s in range(4)])
    expected = [rmsd(frames[3 - i].copy(), frames[i]) for i in range(4)]
    np.testing.assert_allclose(rmsd(frames[::-1], frames), expected)
    np.testing.assert_allclose(nearest_rmsd(frames[::-1], frames), 0.0, atol=1e-6)


def test_a_planar_mirror_image_is_superposable():
    """Mirroring points of a plane is a 180° rotation within space (hand computation): RMSD
    0 although Kabsch forbids reflections; a non-planar set's mirror image is not."""
    flat = np.c_[points(8)[:, :2], np.zeros(8)]
    assert rmsd(flat * [-1.0, 1.0, 1.0], flat) == pytest.approx(0.0, abs=1e-6)
    r, _, _ = kabsch(flat * [-1.0, 1.0, 1.0], flat)
    np.testing.assert_allclose(r, np.diag([-1.0, 1.0, -1.0]), atol=1e-9)


def brute_force_nearest(queries, frames):
    """Min over frames of the RMSD after explicit Kabsch superposition, one pair at a time."""
    return np.array(
        [min(np.sqrt(((superpose(q, f) - f) ** 2).sum(-1).mean()) for f in frames) for q in queries]
    )


def test_nearest_rmsd_equals_brute_force_in_any_blocking(monkeypatch):
    from biovae.applications.structures import geometry

    rng = np.random.default_rng(4)
    queries, frames = rng.normal(size=(7, 10, 3)), rng.normal(size=(5, 10, 3))
    reference = brute_force_nearest(queries, frames)
    np.testing.assert_allclose(nearest_rmsd(queries, frames), reference, rtol=1e-9)
    for pairs in (1, 2, 3, 6, 35, 1000):  # blocks of 1 × 1 ... all 7 × 5 pairs
        monkeypatch.setattr(geometry, "RMSD_BUDGET", pairs * geometry.PAIR_ELEMENTS)
        np.testing.assert_allclose(nearest_rmsd(queries, frames), reference, rtol=1e-9)


def test_nearest_rmsd_of_many_frames_runs_in_bounded_blocks(monkeypatch):
    from biovae.applications.structures import geometry

    rng = np.random.default_rng(5)
    queries, frames = rng.normal(size=(3, 6, 3)), rng.normal(size=(1200, 6, 3))
    rot = Rotation.from_euler("xyz", [10, 20, 30], degrees=True).as_matrix()
    frames[1111] = queries[2] @ rot.T + 4.0  # a copy of query 2 in the last frame block
    monkeypatch.setattr(geometry, "RMSD_BUDGET", 100 * geometry.PAIR_ELEMENTS)  # 100 pairs
    blocks, real = [], geometry.rmsd_matrix

    def spy(a, b):
        blocks.append(a.shape[0] * b.shape[0])
        return real(a, b)

    monkeypatch.setattr(geometry, "rmsd_matrix", spy)
    near = nearest_rmsd(queries, frames)
    assert len(blocks) == 36 and max(blocks) <= 100  # 3 query rows × 12 blocks of 100 frames
    np.testing.assert_allclose(near, brute_force_nearest(queries, frames), rtol=1e-9, atol=1e-6)
    assert near[2] == pytest.approx(0.0, abs=1e-6)


def test_rmsd_matrix_is_the_superposition_rmsd_of_every_pair():
    rng = np.random.default_rng(6)
    a, b = rng.normal(scale=4.0, size=(5, 9, 3)), rng.normal(scale=4.0, size=(4, 9, 3))
    b[2] = a[3] @ Rotation.from_euler("xyz", [40, -15, 70], degrees=True).as_matrix().T - 2.0
    b[3] = a[1] * [1.0, 1.0, -1.0]  # a mirror image: no proper rotation superposes it
    # reference: build each optimal rotation (Kabsch) and measure the residual directly
    reference = np.array(
        [[np.sqrt(((superpose(p, q) - q) ** 2).sum(-1).mean()) for q in b] for p in a]
    )
    got = rmsd_matrix(torch.as_tensor(a), torch.as_tensor(b)).numpy()
    assert got.shape == (5, 4)
    np.testing.assert_allclose(got, reference, rtol=1e-9, atol=1e-7)
    assert got[3, 2] == pytest.approx(0.0, abs=1e-6) and got[1, 3] > 0.1


def pair_by_pair_clashes(ca, cutoff, breaks):
    """Reference: every pair i < j tested on its own; bonded are (i, i+1) not across a break."""
    out = []
    for xyz in ca:
        n = 0
        for i in range(len(xyz)):
            for j in range(i + 1, len(xyz)):
                bonded = j == i + 1 and i not in breaks
                n += (not bonded) and np.sqrt(((xyz[i] - xyz[j]) ** 2).sum()) < cutoff
        out.append(n)
    return np.array(out)


@pytest.mark.parametrize("budget", [1, 3 * 36, 3 * 36 * 4, 2**22])  # 1, 1, 4, all structures
def test_clash_counts_in_any_block_equal_a_pair_by_pair_count(monkeypatch, budget):
    from biovae.applications.structures import validity

    rng = np.random.default_rng(7)
    ca = rng.uniform(0.0, 9.0, size=(11, 10, 3))  # 36 non-consecutive pairs, many clashes
    monkeypatch.setattr(validity, "CLASH_BUDGET", budget)
    for breaks in ((), (2, 6)):
        reference = pair_by_pair_clashes(ca, 3.0, breaks)
        assert reference.min() < reference.max()  # structures differ: blocks must not mix
        np.testing.assert_array_equal(clash_counts(ca, breaks=breaks), reference)


def helix_like_chain(n=12, bond=3.8, angle_deg=100.0):
    """A planar zig-zag with exact bond lengths and angles (hand-built)."""
    half = np.radians(angle_deg) / 2
    dx, dy = bond * np.sin(half), bond * np.cos(half)
    return np.array([[i * dx, (i % 2) * dy, 0.0] for i in range(n)])


def test_validity_metrics_on_a_hand_built_chain():
    chain = helix_like_chain()
    np.testing.assert_allclose(virtual_bonds(chain[None]), 3.8)
    np.testing.assert_allclose(virtual_angles(chain[None]), 100.0)
    assert clash_counts(chain[None]).tolist() == [0]
    assert passes(chain[None]).tolist() == [True]
    squashed = chain.copy()
    squashed[5] = squashed[3] + np.array([0.0, 0.0, 1.0])  # residue 5 onto residue 3
    assert clash_counts(squashed[None])[0] >= 1
    assert passes(squashed[None]).tolist() == [False]
    cis = chain.copy()
    cis[6:] -= (cis[6] - cis[5]) * (1 - 2.9 / 3.8)  # bond 5-6 becomes 2.9 Å
    bonds = virtual_bonds(cis[None])[0]
    assert bonds[5] == pytest.approx(2.9)
    assert passes(cis[None]).tolist() == [True]
    stretched = chain.copy()
    stretched[6:] += (stretched[6] - stretched[5]) * (4.3 / 3.8 - 1)  # bond 5-6 becomes 4.3 Å
    assert virtual_bonds(stretched[None])[0, 5] == pytest.approx(4.3)
    assert passes(stretched[None]).tolist() == [False]  # 10 of 11 bonds valid < 99 %
    assert passes(stretched[None], min_bonds=0.9).tolist() == [True]


def test_radius_of_gyration_of_a_square():
    square = np.array([[[1.0, 1, 0], [1, -1, 0], [-1, 1, 0], [-1, -1, 0]]])
    assert radius_of_gyration(square)[0] == pytest.approx(np.sqrt(2))


def test_assess_separates_valid_and_broken_ensembles():
    chain = helix_like_chain()
    good = np.stack([chain, chain + 0.01])
    v = assess(good, good)
    assert v.bonds_valid == 1.0 and v.bonds_trans_valid == 1.0 and v.bonds_cis_valid == 0.0
    assert v.clash_free == 1.0 and v.passing == 1.0 and v.nearest_rmsd_min < 1e-3
    shrunk = good * 0.5  # bonds 1.9 Å, non-bonded pairs too close
    w = assess(shrunk, good)
    assert w.bonds_valid == 0.0 and w.clash_free == 0.0 and w.passing == 0.0
    assert w.angle_w1_deg < 1e-6  # angles are scale invariant


def test_cis_bonds_are_those_with_median_length_below_3_35():
    from biovae.applications.structures.validity import cis_bonds

    chain = helix_like_chain(n=8)
    frames = np.stack([chain, chain, chain])
    # shorten bond 3 → 4 to 3.0 Å in two of three frames (median cis), bond 5 → 6 in one only
    for f, bond, length in ((0, 3, 3.0), (1, 3, 3.0), (2, 5, 3.0)):
        v = frames[f, bond + 1] - frames[f, bond]
        frames[f, bond + 1 :] -= v * (1 - length / np.linalg.norm(v))
    assert cis_bonds(frames) == (3,)
