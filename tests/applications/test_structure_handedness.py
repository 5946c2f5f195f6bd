"""Cα virtual torsions, circular W1 and the mirror-image test against known answers."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment
from scipy.spatial.transform import Rotation

from biovae.applications.structures.circular import circular_w1, mean_resultant
from biovae.applications.structures.validity import (
    assess,
    clash_counts,
    mirrored,
    passes,
    radius_of_gyration,
    virtual_angles,
    virtual_bonds,
    virtual_torsions,
)

MIRROR = np.array([-1.0, 1.0, 1.0])


def quadruple(phi_deg):
    """p0 on +x, the middle bond p1 → p2 along +z, p3 turned by φ counter-clockwise seen from +z.

    Looking along p1 → p2 (from −z) that turn is clockwise: IUPAC dihedral +φ.
    """
    phi = np.radians(phi_deg)
    return np.array([[1.0, 0, 0], [0, 0, 0], [0, 0, 1], [np.cos(phi), np.sin(phi), 1]])


def ideal_helix(n=16, radius=2.3, turn_deg=100.0, rise=1.5):
    """Cα trace of an ideal right-handed α-helix (3.6 residues per turn, 1.5 Å rise)."""
    t = np.radians(turn_deg) * np.arange(n)
    return np.stack([radius * np.cos(t), radius * np.sin(t), rise * np.arange(n)], -1)


def chain(torsions_deg, angle_deg=90.0, bond=3.8):
    """A Cα trace built atom by atom with the given bond, angle and torsions (NeRF)."""
    a = np.radians(angle_deg)
    third = np.array([bond * (1 - np.cos(a)), bond * np.sin(a), 0])
    xyz = [np.zeros(3), np.array([bond, 0, 0]), third]
    for tau in np.radians(torsions_deg):
        p0, p1, p2 = xyz[-3:]
        bc = (p2 - p1) / np.linalg.norm(p2 - p1)
        n = np.cross(p1 - p0, bc)
        n /= np.linalg.norm(n)
        local = bond * np.array([-np.cos(a), np.sin(a) * np.cos(tau), np.sin(a) * np.sin(tau)])
        xyz.append(p2 + np.column_stack([bc, np.cross(n, bc), n]) @ local)
    return np.array(xyz)


@pytest.mark.parametrize("phi", [60.0, -60.0, 120.0, -150.0, 0.0, 180.0])
def test_torsion_of_a_hand_built_quadruple_has_the_iupac_sign(phi):
    assert virtual_torsions(quadruple(phi)[None])[0, 0] == pytest.approx(phi, abs=1e-9)
    # a mirror image negates every torsion (trans, 180°, is its own mirror: (−180, 180])
    expected = 180.0 if phi == 180.0 else -phi
    assert virtual_torsions((quadruple(phi) * MIRROR)[None])[0, 0] == pytest.approx(expected)


def test_torsion_sign_agrees_with_mdanalysis_and_the_right_handed_helix():
    helix = ideal_helix()
    # literature: Cα virtual torsion of an α-helix ≈ +50°, of its left-handed mirror ≈ −50°
    np.testing.assert_allclose(virtual_torsions(helix[None]), 50.0, atol=1.0)
    np.testing.assert_allclose(virtual_torsions((helix * MIRROR)[None]), -50.0, atol=1.0)
    distances = pytest.importorskip("MDAnalysis.lib.distances")
    rng = np.random.default_rng(0)
    walk = np.cumsum(rng.normal(size=(30, 3)), 0)
    reference = np.degrees(distances.calc_dihedrals(walk[:-3], walk[1:-2], walk[2:-1], walk[3:]))
    np.testing.assert_allclose(virtual_torsions(walk[None])[0], reference, atol=1e-3)  # float32


def test_torsions_skip_quadruples_spanning_a_break():
    trace = np.cumsum(np.random.default_rng(1).normal(size=(8, 3)), 0)
    full = virtual_torsions(trace[None])[0]
    assert full.shape == (5,)
    # bond 3 → 4 missing: quadruples starting at 1, 2, 3 contain it, those at 0 and 4 do not
    np.testing.assert_allclose(virtual_torsions(trace[None], (3,))[0], full[[0, 4]])
    np.testing.assert_allclose(virtual_torsions(trace[None], (0, 6))[0], full[1:4])


def test_circular_w1_matches_optimal_transport_with_arc_length_cost():
    assert circular_w1([350.0], [10.0]) == pytest.approx(20.0)  # the short way round
    assert circular_w1([-179.0], [179.0]) == pytest.approx(2.0)
    rng = np.random.default_rng(2)
    for spread in (0.0, 0.5, 2.0):  # uniform to concentrated
        u = rng.uniform(-180, 180, 40)
        v = np.degrees(rng.vonmises(1.0, spread, 40))
        gap = np.abs(u[:, None] - v[None]) % 360
        cost = np.minimum(gap, 360 - gap)
        rows, cols = linear_sum_assignment(cost)  # equal sizes: W1 is the best matching
        assert circular_w1(u, v) == pytest.approx(cost[rows, cols].mean(), rel=1e-12)


def test_a_real_ensemble_passes_and_its_mirror_image_does_not(ubiquitin):
    v = assess(ubiquitin, ubiquitin)
    assert v.mirror_images == 0.0 and v.passing == 1.0 and v.torsion_w1_deg == 0.0
    held_out = [mirrored(ubiquitin[[k]], np.delete(ubiquitin, k, 0))[0] for k in range(12)]
    assert not any(held_out)  # each model against the other 11
    mirror = ubiquitin * MIRROR
    for measure in (virtual_bonds, virtual_angles, radius_of_gyration):
        np.testing.assert_allclose(measure(mirror), measure(ubiquitin), atol=1e-9)
    assert clash_counts(mirror).tolist() == clash_counts(ubiquitin).tolist()
    np.testing.assert_allclose(virtual_torsions(mirror), -virtual_torsions(ubiquitin), atol=1e-9)
    assert passes(mirror).all()  # bonds and clashes alone cannot see it
    assert not passes(mirror, training=ubiquitin).any()
    assert mirrored(mirror, ubiquitin).all()
    w = assess(mirror, ubiquitin)
    assert w.bonds_valid == v.bonds_valid and w.clash_free == 1.0 and w.angle_w1_deg < 1e-9
    assert w.mirror_images == 1.0 and w.passing == 0.0 and w.torsion_w1_deg > 20.0


def test_a_rotated_frame_is_not_mirrored_but_an_improper_rotation_is(ubiquitin):
    rotations = Rotation.random(12, random_state=3).as_matrix()
    moved = np.einsum("nij,naj->nai", rotations, ubiquitin) + np.array([5.0, -3.0, 12.0])
    np.testing.assert_allclose(virtual_torsions(moved), virtual_torsions(ubiquitin), atol=1e-9)
    assert not mirrored(moved, ubiquitin).any()
    assert passes(moved, training=ubiquitin).all()
    assert mirrored(-moved, ubiquitin).all()  # inversion: a rotation times a reflection


def test_spread_positions_weigh_by_their_resultant_length():
    # torsion 0 is tight (+50° in both frames), torsions 1-3 are spread (+120° / −40°: circular
    # mean +40°, resultant length cos 80° ≈ 0.17); the query has −40° where it is spread
    training = np.stack([chain([50, 120, 120, 120]), chain([50, -40, -40, -40])])
    r = mean_resultant(virtual_torsions(training), axis=0)
    np.testing.assert_allclose(np.angle(r[1:], deg=True), 40.0)
    np.testing.assert_allclose(np.abs(r[1:]), np.cos(np.radians(80.0)))
    query = chain([50, -40, -40, -40])[None]
    # unweighted, the three spread positions would outvote the tight one: Σ cos(τ+τ̄) − cos(τ−τ̄)
    tau, mean = np.radians(virtual_torsions(query)[0]), np.angle(r)
    assert (np.cos(tau + mean) - np.cos(tau - mean)).sum() > 0
    assert not mirrored(query, training)[0]
    assert mirrored(chain([-50, 40, 40, 40])[None], training)[0]  # the query's mirror image


def test_achiral_training_judges_nothing_mirrored():
    zigzag = chain([180.0] * 8)  # planar: every torsion is its own mirror image
    frames = np.stack([zigzag, zigzag * MIRROR, zigzag + 0.01])
    assert not mirrored(frames, frames).any()
    assert not mirrored(ideal_helix(11)[None], frames).any()  # no reference hand to contradict


def test_three_atom_chains_have_no_torsion_and_no_hand():
    frames = np.stack([ideal_helix(3), ideal_helix(3) * MIRROR])
    assert virtual_torsions(frames).shape == (2, 0)
    v = assess(frames, frames)
    assert np.isnan(v.torsion_w1_deg) and v.mirror_images == 0.0 and v.passing == 1.0
