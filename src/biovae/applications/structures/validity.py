"""Chemical validity of Cα traces: virtual bonds, angles, clashes, size, novelty.

All functions take Cα coordinates ``(n_structures, n_residues, 3)`` in Å, consecutive rows being
consecutive residues of one chain — except across ``breaks``: indices i where atoms i and i+1
are not bonded (another chain, or residues missing in between; :func:`chain_breaks` finds them).
There is no virtual bond (nor an angle through it), and the pair counts as non-consecutive.

* Virtual bond Cα(i)–Cα(i+1): trans peptides give 3.80 Å, accepted within ±0.2 Å; cis peptides
  give ≈ 2.9 Å and are counted separately (2.9 ± 0.2 Å).
* Virtual angle Cα(i−1)–Cα(i)–Cα(i+1), compared with the training set's distribution.
* Clash: a non-consecutive pair (|i − j| ≥ 2) closer than 3.0 Å.
* Radius of gyration and RMSD to the nearest training frame (after superposition).

A structure *passes* when at least 99 % of its virtual bonds are trans- or cis-valid (the
ensemble acceptance level applied per structure: real frames are not perfect either, e.g. the
cis Phe86–Pro87 bond of AdK spans 2.87–3.24 Å in the DIMS trajectory) and it has no clash.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

import numpy as np
from scipy.stats import wasserstein_distance

from biovae.applications.structures.geometry import ca_only, nearest_rmsd
from biovae.errors import DataError

if TYPE_CHECKING:
    from biovae.data.structure import Structures

TRANS, CIS, TOLERANCE, CLASH = 3.8, 2.9, 0.2, 3.0
#: Fraction of valid virtual bonds a single structure needs to pass (the ensemble target).
MIN_BONDS = 0.99


def bonded(n_atoms: int, breaks: tuple[int, ...] = ()) -> np.ndarray:
    """``(L − 1,)``: whether atoms i and i+1 are joined by a virtual bond."""
    mask = np.ones(max(n_atoms - 1, 0), dtype=bool)
    mask[list(breaks)] = False
    return mask


def chain_breaks(ca: np.ndarray, chains: tuple[str, ...] | None = None) -> tuple[int, ...]:
    """Indices i where atoms i and i+1 of ``ca`` ``(n, L, 3)`` are not bonded: another chain,
    or a median distance beyond any peptide's (> 4.2 Å: residues missing in between)."""
    median = np.median(virtual_bonds(ca), axis=0)
    gap = median > TRANS + 2 * TOLERANCE
    if chains is not None:
        gap |= np.asarray(chains[1:]) != np.asarray(chains[:-1])
    return tuple(int(i) for i in np.flatnonzero(gap))


def ca_breaks(structures: Structures, coords: np.ndarray | None = None) -> tuple[int, ...]:
    """:func:`chain_breaks` of the Cα atoms of ``structures`` (or of ``coords`` on its atoms),
    with chain changes read from the chain ids of those atoms."""
    chains = tuple(c for c, a in zip(structures.chain_ids, structures.atom_names) if a == "CA")
    return chain_breaks(ca_only(structures, coords), chains)


def virtual_bonds(ca: np.ndarray, breaks: tuple[int, ...] = ()) -> np.ndarray:
    """Cα(i)–Cα(i+1) distances of bonded pairs, shape ``(n, L − 1 − len(breaks))``."""
    d = np.linalg.norm(np.diff(np.asarray(ca, dtype=np.float64), axis=-2), axis=-1)
    return d[..., bonded(d.shape[-1] + 1, breaks)] if breaks else d


def virtual_angles(ca: np.ndarray, breaks: tuple[int, ...] = ()) -> np.ndarray:
    """Cα(i−1)–Cα(i)–Cα(i+1) angles in degrees of bonded triples, ``(n, ≤ L − 2)``."""
    ca = np.asarray(ca, dtype=np.float64)
    a = ca[..., :-2, :] - ca[..., 1:-1, :]
    b = ca[..., 2:, :] - ca[..., 1:-1, :]
    cos = (a * b).sum(-1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1) + 1e-12)
    angles = np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))
    if not breaks:
        return angles
    joined = bonded(ca.shape[-2], breaks)
    return angles[..., joined[:-1] & joined[1:]]


def clash_counts(ca: np.ndarray, cutoff: float = CLASH, breaks: tuple[int, ...] = ()) -> np.ndarray:
    """Number of non-bonded pairs (|i − j| ≥ 2, or across a break) closer than ``cutoff`` Å,
    per structure."""
    ca = np.asarray(ca, dtype=np.float64)
    n_res = ca.shape[-2]
    i, j = np.triu_indices(n_res, k=2)
    if breaks:
        i, j = np.r_[i, list(breaks)], np.r_[j, [b + 1 for b in breaks]]
    out = np.empty(len(ca), dtype=np.int64)
    for s, xyz in enumerate(ca):  # one structure at a time keeps memory at L² floats
        out[s] = int((np.linalg.norm(xyz[i] - xyz[j], axis=-1) < cutoff).sum())
    return out


def radius_of_gyration(ca: np.ndarray) -> np.ndarray:
    """Radius of gyration (Å) of each structure."""
    ca = np.asarray(ca, dtype=np.float64)
    return np.sqrt(((ca - ca.mean(-2, keepdims=True)) ** 2).sum(-1).mean(-1))


def cis_bonds(ca: np.ndarray, breaks: tuple[int, ...] = ()) -> tuple[int, ...]:
    """Virtual bonds i → i+1 that are cis in ``ca`` ``(n, atoms, 3)``: median length below the
    midpoint of the cis and trans lengths (2.9 and 3.8 Å); never a break."""
    median = np.median(virtual_bonds(ca), axis=0)
    cis = np.flatnonzero(median < (CIS + TRANS) / 2)
    return tuple(int(i) for i in cis if int(i) not in set(breaks))


def bond_ok(d: np.ndarray) -> np.ndarray:
    """Whether virtual-bond lengths ``d`` are trans- (3.8 ± 0.2 Å) or cis-valid (2.9 ± 0.2 Å)."""
    return (np.abs(d - TRANS) <= TOLERANCE) | (np.abs(d - CIS) <= TOLERANCE)


def passes(
    ca: np.ndarray, min_bonds: float = MIN_BONDS, breaks: tuple[int, ...] = ()
) -> np.ndarray:
    """Per structure: ≥ ``min_bonds`` of virtual bonds trans- or cis-valid, and no clash."""
    ok = bond_ok(virtual_bonds(ca, breaks)).mean(-1) >= min_bonds
    return ok & (clash_counts(ca, breaks=breaks) == 0)


@dataclass(frozen=True)
class Validity:
    """Validity of an ensemble of Cα traces against a training ensemble."""

    n_structures: int
    bonds_valid: float  #: fraction of virtual bonds trans- or cis-valid
    bonds_trans_valid: float  #: fraction of virtual bonds within 3.8 ± 0.2 Å
    bonds_cis_valid: float  #: fraction within 2.9 ± 0.2 Å (cis peptides)
    bond_mean: float
    bond_std: float
    clash_free: float  #: fraction of structures without any clash
    clashes_per_structure: float
    angle_w1_deg: float  #: Wasserstein-1 distance to the training angle distribution (°)
    angles_in_training_range: float  #: fraction of angles within the training [min, max]
    rg_mean: float
    rg_std: float
    nearest_rmsd_mean: float  #: mean RMSD (Å) to the closest training frame
    nearest_rmsd_min: float
    passing: float  #: fraction of structures passing every check

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


def assess(ca: np.ndarray, training: np.ndarray, breaks: tuple[int, ...] = ()) -> Validity:
    """Validity of ``ca`` ``(n, L, 3)`` against ``training`` Cα frames ``(m, L, 3)``."""
    d = virtual_bonds(ca, breaks)
    angles, train_angles = virtual_angles(ca, breaks), virtual_angles(training, breaks)
    clashes = clash_counts(ca, breaks=breaks)
    rg = radius_of_gyration(ca)
    near = nearest_rmsd(ca, training)
    if train_angles.size == 0:
        raise DataError(
            f"validity needs three consecutive bonded Cα atoms; these chains of {ca.shape[-2]} "
            "atoms have none"
        )
    lo, hi = train_angles.min(), train_angles.max()
    return Validity(
        n_structures=len(ca),
        bonds_valid=float(bond_ok(d).mean()),
        bonds_trans_valid=float((np.abs(d - TRANS) <= TOLERANCE).mean()),
        bonds_cis_valid=float((np.abs(d - CIS) <= TOLERANCE).mean()),
        bond_mean=float(d.mean()),
        bond_std=float(d.std()),
        clash_free=float((clashes == 0).mean()),
        clashes_per_structure=float(clashes.mean()),
        angle_w1_deg=float(wasserstein_distance(angles.ravel(), train_angles.ravel())),
        angles_in_training_range=float(((angles >= lo) & (angles <= hi)).mean()),
        rg_mean=float(rg.mean()),
        rg_std=float(rg.std()),
        nearest_rmsd_mean=float(near.mean()),
        nearest_rmsd_min=float(near.min()),
        passing=float(passes(ca, breaks=breaks).mean()),
    )
