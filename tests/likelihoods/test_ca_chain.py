"""The Cα-chain constraint transform: bond lengths and excluded volume on real structures."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from biovae.applications.structures.geometry import rmsd
from biovae.applications.structures.validity import clash_counts, virtual_bonds
from biovae.likelihoods.ca_chain import bond_lengths, chain_mean, initial_bond_raw


@pytest.fixture
def ubiquitin(fixtures):
    pytest.importorskip("MDAnalysis", reason="needs the structure extra (MDAnalysis)")
    from biovae.data.structure import read_structures

    return read_structures(fixtures / "ubiquitin_2k39_ca_12.pdb").coords.astype(np.float64)


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
