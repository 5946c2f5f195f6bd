"""The Cα-chain constraint transform: bond lengths and excluded volume on real structures."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from biovae.applications.structures.geometry import rmsd
from biovae.applications.structures.validity import clash_counts, virtual_bonds
from biovae.likelihoods.ca_chain import BOND_TOL, bond_lengths, chain_mean, initial_bond_raw


def project(coords, raw=None):
    loc = torch.as_tensor(coords).reshape(len(coords), -1)
    raw = initial_bond_raw(coords.shape[1] - 1).double() if raw is None else raw
    return chain_mean(loc, raw).reshape(coords.shape).numpy()


def test_initial_bonds_are_trans():
    assert bond_lengths(initial_bond_raw(3)).tolist() == pytest.approx([3.8] * 3)


def test_a_real_chain_barely_moves(ubiquitin):
    out = project(ubiquitin)
    assert np.abs(virtual_bonds(out) - 3.8).max() < 0.02
    assert rmsd(out, ubiquitin).max() < 0.1


def test_noisy_coordinates_become_valid_chains(ubiquitin):
    noisy = ubiquitin + np.random.default_rng(0).normal(scale=0.5, size=ubiquitin.shape)
    assert np.abs(virtual_bonds(noisy) - 3.8).max() > 1.0  # the raw input is broken
    out = project(noisy)
    assert np.abs(virtual_bonds(out) - 3.8).max() < 0.05
    assert clash_counts(out).sum() == 0


def test_learned_bond_lengths_are_honoured(ubiquitin):
    raw = initial_bond_raw(75).double()
    raw[10] = torch.atanh(torch.tensor(-0.1 / 0.15)).double()  # ℓ = 3.7 Å
    bonds = virtual_bonds(project(ubiquitin, raw))
    assert bonds[:, 10] == pytest.approx(np.full(len(bonds), 3.7), abs=0.02)


def hairpin(n_strand: int = 20, gap: float = 2.0, seed: int = 0) -> np.ndarray:
    """Two antiparallel straight strands ``gap`` Å apart joined by one bond, with noise.

    Every atom of one strand is within ~2 Å of an atom of the other (dozens of clashes), and
    the noise (sd 0.4 Å) breaks the bond lengths: both constraints are violated at once.
    """
    x = np.arange(n_strand) * 3.8
    a = np.stack([x, np.zeros(n_strand), np.zeros(n_strand)], 1)
    b = np.stack([x[::-1], np.full(n_strand, gap), np.zeros(n_strand)], 1)
    chain = np.concatenate([a, b])
    return chain + np.random.default_rng(seed).normal(scale=0.4, size=chain.shape)


def project_rounds(coords, rounds):
    loc = torch.as_tensor(coords).reshape(len(coords), -1)
    raw = initial_bond_raw(coords.shape[1] - 1).double()
    return chain_mean(loc, raw, rounds).reshape(coords.shape).numpy()


def closest_nonbonded(ca):
    pairs = np.linalg.norm(ca[:, :, None] - ca[:, None], axis=-1)
    n = ca.shape[1]
    return pairs[:, np.abs(np.subtract.outer(np.arange(n), np.arange(n))) >= 2].min()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_projection_satisfies_bonds_and_excluded_volume_together(seed):
    raw = hairpin(seed=seed)[None]
    assert clash_counts(raw)[0] > 10 and np.abs(virtual_bonds(raw) - 3.8).max() > 0.5
    # the likelihood's transform (MAX_ROUNDS rounds): the validity criteria of the issue
    out = project(raw)
    assert np.abs(virtual_bonds(out) - 3.8).max() < 0.2 and closest_nonbonded(out) >= 3.0
    # run to convergence: the stopping test holds, bonds within 0.05 Å of 3.8, pairs ≥ 3.5 Å
    out = project_rounds(raw, 50)
    assert np.abs(virtual_bonds(out) - 3.8).max() <= 0.05 and closest_nonbonded(out) >= 3.5


def test_a_satisfied_record_does_not_depend_on_its_batch(ubiquitin):
    alone = project(ubiquitin[:1])
    with_hard = project(np.concatenate([ubiquitin[:1], ubiquitin[1:2] * 0.6]))
    np.testing.assert_allclose(with_hard[0], alone[0], atol=1e-9)


def test_cis_bonds_are_held_near_cis_length(ubiquitin):
    loc = torch.as_tensor(ubiquitin).reshape(len(ubiquitin), -1)
    cis = torch.zeros(75, dtype=torch.bool)
    cis[20] = True
    out = chain_mean(loc, initial_bond_raw(75).double(), cis=cis).reshape(ubiquitin.shape)
    bonds = virtual_bonds(out.numpy())
    assert bonds[:, 20] == pytest.approx(np.full(len(bonds), 2.9), abs=0.05)
    assert np.abs(np.delete(bonds, 20, axis=1) - 3.8).max() < 0.05
    assert clash_counts(out.numpy()).sum() == 0


def test_cis_bonds_beyond_the_chain_are_a_config_error():
    from biovae.config import LikelihoodConfig
    from biovae.errors import ConfigError
    from biovae.likelihoods.ca_chain import CaChain

    with pytest.raises(ConfigError, match="cis_bonds"):
        CaChain((12,), LikelihoodConfig(name="ca_chain", cis_bonds=(3,)))


def test_no_bond_is_enforced_across_a_chain_break(ubiquitin):
    from biovae.applications.structures.validity import assess, chain_breaks

    two = ubiquitin.copy()
    two[:, 40:] += np.array([20.0, 0.0, 0.0])  # atoms 40.. moved 20 Å away: another chain
    assert chain_breaks(two) == (39,)
    loc = torch.as_tensor(two).reshape(len(two), -1)
    raw = initial_bond_raw(two.shape[1] - 1).double()
    bonded = torch.ones(two.shape[1] - 1, dtype=torch.bool)
    bonded[39] = False
    out = chain_mean(loc, raw, bonded=bonded).reshape(two.shape).numpy()
    gap = np.linalg.norm(out[:, 40] - out[:, 39], axis=-1)
    assert gap.min() > 15.0  # left apart, where a bond would pull it to 3.8 Å
    assert np.abs(np.delete(virtual_bonds(out), 39, axis=1) - 3.8).max() <= BOND_TOL
    closed = chain_mean(loc, raw).reshape(two.shape).numpy()
    assert np.abs(np.linalg.norm(closed[:, 40] - closed[:, 39], axis=-1) - 3.8).max() < 0.2
    assert virtual_bonds(two, (39,)).shape == (12, 74)
    assert assess(two, ubiquitin, (39,)).bonds_valid == 1.0  # the gap is not an invalid bond
    assert assess(two, ubiquitin).bonds_valid < 1.0


def test_each_record_of_a_batch_is_projected_as_if_alone():
    # records that stop at different rounds: a valid zig-zag (none), mild noise (a few), two
    # hairpins (all rounds); each result and gradient must be that of the record on its own
    zigzag = np.array([[i * 3.6, (i % 2) * 1.2, 0.0] for i in range(40)])
    rng = np.random.default_rng(3)
    batch = np.stack(
        [zigzag, zigzag + rng.normal(scale=0.3, size=zigzag.shape), hairpin(seed=1), hairpin()]
    )
    raw = initial_bond_raw(39).double()

    def run(records):
        loc = torch.as_tensor(records).reshape(len(records), -1).requires_grad_()
        out = chain_mean(loc, raw)
        (out**2).sum().backward()
        return out.detach().numpy(), loc.grad.numpy()

    together = run(batch)
    for k in range(len(batch)):
        alone = run(batch[k : k + 1])
        np.testing.assert_allclose(together[0][k], alone[0][0], rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(together[1][k], alone[1][0], rtol=1e-12, atol=1e-12)


def test_the_stopping_test_matches_a_pair_by_pair_reference():
    from biovae.likelihoods.ca_chain import EXCLUDED, EXCLUDED_TOL, _satisfied

    rng = np.random.default_rng(8)
    y = rng.uniform(0.0, 12.0, size=(40, 6, 3))
    y[::3] = np.array([[i * 3.8, 0.0, 0.0] for i in range(6)])  # some records satisfy both
    y[5, 4] = np.nan  # a broken record is never satisfied
    length = torch.full((5, 1), 3.8, dtype=torch.float64)
    bonds = np.linalg.norm(np.diff(y, axis=1), axis=-1)
    expected = []
    for rec, bond in zip(y, bonds):
        pairs = [np.linalg.norm(rec[i] - rec[j]) for i in range(6) for j in range(i + 2, 6)]
        ok = np.all(np.abs(bond - 3.8) <= BOND_TOL) and np.all(
            np.array(pairs) >= EXCLUDED - EXCLUDED_TOL
        )
        expected.append(bool(ok))
    t = torch.as_tensor(y)
    idx = torch.arange(6)
    nonbonded = (idx[:, None] - idx[None]).abs() >= 2
    got = _satisfied(t, torch.cdist(t, t), length, torch.ones(5, 1, dtype=torch.bool), nonbonded)
    assert got.tolist() == expected and 0 < sum(expected) < len(expected)
