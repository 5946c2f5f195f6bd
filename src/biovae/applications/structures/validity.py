"""Chemical validity of Cα traces: virtual bonds, angles, torsions, handedness, clashes, size,
novelty.

All functions take Cα coordinates ``(n_structures, n_residues, 3)`` in Å, consecutive rows being
consecutive residues of one chain — except across ``breaks``: indices i where atoms i and i+1
are not bonded (another chain, or residues missing in between; :func:`chain_breaks` finds them).
There is no virtual bond (nor an angle or torsion through it), and the pair counts as
non-consecutive.

* Virtual bond Cα(i)–Cα(i+1): trans peptides give 3.80 Å, accepted within ±0.2 Å; cis peptides
  give ≈ 2.9 Å and are counted separately (2.9 ± 0.2 Å).
* Virtual angle Cα(i−1)–Cα(i)–Cα(i+1), compared with the training set's distribution.
* Virtual torsion Cα(i−1)–Cα(i)–Cα(i+1)–Cα(i+2) (IUPAC sign, (−180°, 180°]; ≈ +50° in a
  right-handed α-helix), compared with the training set's by the circular Wasserstein-1
  distance (pooled over positions, like the angles).
* Handedness: a mirror image has the same bonds, angles, clashes and size as the structure
  but all torsions negated — the other enantiomer (D-amino acids, left-handed helices). With
  r_i = mean of e^{iτ} over the training frames at torsion i (circular mean τ̄_i, resultant
  length R_i = |r_i|), a structure is *mirrored* when it agrees better with the training's
  mirror image than with the training: Σ_i R_i [cos(τ_i + τ̄_i) − cos(τ_i − τ̄_i)] > 0, i.e.
  Σ_i Im(r_i) sin τ_i < 0. Weighting by R_i lets positions where the training torsions are
  spread (flexible loops, R_i ≈ 0) count for little; achiral positions (τ̄_i ≈ 0° or 180°)
  count for nothing, as they are their own mirror image.
* Clash: a non-consecutive pair (|i − j| ≥ 2) closer than 3.0 Å.
* Radius of gyration and RMSD to the nearest training frame (after superposition).

A structure *passes* when at least 99 % of its virtual bonds are trans- or cis-valid (the
ensemble acceptance level applied per structure: real frames are not perfect either, e.g. the
cis Phe86–Pro87 bond of AdK spans 2.87–3.24 Å in the DIMS trajectory), it has no clash and —
when training frames are given — it is not mirrored.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

import numpy as np
from scipy.stats import wasserstein_distance

from biovae.applications.structures.circular import circular_w1, mean_resultant
from biovae.applications.structures.geometry import ca_only, nearest_rmsd
from biovae.errors import DataError

if TYPE_CHECKING:
    from biovae.data.structure import Structures

TRANS, CIS, TOLERANCE, CLASH = 3.8, 2.9, 0.2, 3.0
#: Handedness scores within this (per torsion) of 0 are rounding, not a mirror image.
MIRROR_TOLERANCE = 1e-9
#: Fraction of valid virtual bonds a single structure needs to pass (the ensemble target).
MIN_BONDS = 0.99
#: Largest temporary of :func:`clash_counts` (pair differences of a block of structures), in
#: float64 elements (2^22: 32 MiB).
CLASH_BUDGET = 2**22


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


def virtual_torsions(ca: np.ndarray, breaks: tuple[int, ...] = ()) -> np.ndarray:
    """Cα(i−1)–Cα(i)–Cα(i+1)–Cα(i+2) dihedrals in degrees, (−180, 180], of bonded quadruples,
    ``(n, ≤ L − 3)``.

    IUPAC sign: looking along Cα(i) → Cα(i+1), positive when the near bond must turn clockwise
    to eclipse the far one (a right-handed α-helix gives ≈ +50°).
    """
    ca = np.asarray(ca, dtype=np.float64)
    b0 = ca[..., :-3, :] - ca[..., 1:-2, :]
    b1 = ca[..., 2:-1, :] - ca[..., 1:-2, :]
    b2 = ca[..., 3:, :] - ca[..., 2:-1, :]
    b1 = b1 / (np.linalg.norm(b1, axis=-1, keepdims=True) + 1e-12)
    v = b0 - (b0 * b1).sum(-1, keepdims=True) * b1  # the two outer bonds, projected on the
    w = b2 - (b2 * b1).sum(-1, keepdims=True) * b1  # plane perpendicular to the middle one
    x, y = (v * w).sum(-1), (np.cross(b1, v) * w).sum(-1)
    torsions = np.degrees(np.arctan2(y, x))
    torsions = np.where(torsions <= -180.0, torsions + 360.0, torsions)
    if not breaks:
        return torsions
    joined = bonded(ca.shape[-2], breaks)
    return torsions[..., joined[:-2] & joined[1:-1] & joined[2:]]


def handedness(ca: np.ndarray, training: np.ndarray, breaks: tuple[int, ...] = ()) -> np.ndarray:
    """Per structure of ``ca``: Σ_i Im(r_i) sin τ_i, r_i the mean of e^{iτ} of ``training``'s
    torsion i — half of Σ_i R_i [cos(τ_i − τ̄_i) − cos(τ_i + τ̄_i)]: positive when the
    structure agrees better with the training frames than with their mirror image."""
    return _handedness(virtual_torsions(ca, breaks), virtual_torsions(training, breaks))


def _handedness(torsions: np.ndarray, train_torsions: np.ndarray) -> np.ndarray:
    """:func:`handedness` from the torsions (degrees) of the structures and of the training."""
    reference = mean_resultant(train_torsions, axis=0)
    return (np.sin(np.radians(torsions)) * reference.imag).sum(-1)


def mirrored(ca: np.ndarray, training: np.ndarray, breaks: tuple[int, ...] = ()) -> np.ndarray:
    """Per structure: closer to the mirror image of ``training`` than to ``training`` itself
    (:func:`handedness` below 0 beyond rounding). Never true without chiral torsions."""
    return _mirror_verdict(handedness(ca, training, breaks), ca.shape[-2])


def _mirror_verdict(score: np.ndarray, n_atoms: int) -> np.ndarray:
    """:func:`mirrored` from the :func:`handedness` scores of chains of ``n_atoms`` atoms."""
    return score < -MIRROR_TOLERANCE * max(n_atoms - 3, 1)


def clash_counts(ca: np.ndarray, cutoff: float = CLASH, breaks: tuple[int, ...] = ()) -> np.ndarray:
    """Number of non-bonded pairs (|i − j| ≥ 2, or across a break) closer than ``cutoff`` Å,
    per structure."""
    ca = np.asarray(ca, dtype=np.float64)
    n_res = ca.shape[-2]
    i, j = np.triu_indices(n_res, k=2)
    if breaks:
        i, j = np.r_[i, list(breaks)], np.r_[j, [b + 1 for b in breaks]]
    step = max(CLASH_BUDGET // (3 * max(len(i), 1)), 1)  # structures per block
    out = np.empty(len(ca), dtype=np.int64)
    for s in range(0, len(ca), step):
        xyz = ca[s : s + step]
        out[s : s + step] = (np.linalg.norm(xyz[:, i] - xyz[:, j], axis=-1) < cutoff).sum(-1)
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
    ca: np.ndarray,
    min_bonds: float = MIN_BONDS,
    breaks: tuple[int, ...] = (),
    training: np.ndarray | None = None,
) -> np.ndarray:
    """Per structure: ≥ ``min_bonds`` of virtual bonds trans- or cis-valid, no clash, and —
    if ``training`` Cα frames ``(m, L, 3)`` are given — not :func:`mirrored` against them.

    Without ``training`` handedness is not checked: a mirror image passes.
    """
    mirror = None if training is None else mirrored(ca, training, breaks)
    return _passing(virtual_bonds(ca, breaks), clash_counts(ca, breaks=breaks), mirror, min_bonds)


def _passing(
    d: np.ndarray, clashes: np.ndarray, mirror: np.ndarray | None, min_bonds: float = MIN_BONDS
) -> np.ndarray:
    """:func:`passes` from the bonds ``d``, clash counts and mirror verdicts already found."""
    ok = (bond_ok(d).mean(-1) >= min_bonds) & (clashes == 0)
    return ok if mirror is None else ok & ~mirror


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
    #: circular Wasserstein-1 distance to the training torsions (°); NaN if there are none
    torsion_w1_deg: float
    mirror_images: float  #: fraction of structures closer to the training's mirror image
    rg_mean: float
    rg_std: float
    nearest_rmsd_mean: float  #: mean RMSD (Å) to the closest training frame
    nearest_rmsd_min: float
    passing: float  #: fraction passing every check: bonds, clashes, not mirrored

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


#: Unit of each :class:`Validity` field (lengths in Å, angles in degrees; the rest are
#: fractions of bonds, angles or structures, or counts), as ``structure validate`` prints them.
UNITS: dict[str, str] = {
    "n_structures": "structures",
    **dict.fromkeys(("bond_mean", "bond_std", "rg_mean", "rg_std"), "Å"),
    **dict.fromkeys(("nearest_rmsd_mean", "nearest_rmsd_min"), "Å"),
    "clashes_per_structure": "clashes",
    **dict.fromkeys(("angle_w1_deg", "torsion_w1_deg"), "°"),
}


def assess(ca: np.ndarray, training: np.ndarray, breaks: tuple[int, ...] = ()) -> Validity:
    """Validity of ``ca`` ``(n, L, 3)`` against ``training`` Cα frames ``(m, L, 3)``."""
    d = virtual_bonds(ca, breaks)
    angles, train_angles = virtual_angles(ca, breaks), virtual_angles(training, breaks)
    torsions, train_torsions = virtual_torsions(ca, breaks), virtual_torsions(training, breaks)
    clashes = clash_counts(ca, breaks=breaks)
    mirror = _mirror_verdict(_handedness(torsions, train_torsions), ca.shape[-2])
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
        torsion_w1_deg=circular_w1(torsions, train_torsions) if torsions.size else np.nan,
        mirror_images=float(mirror.mean()),
        rg_mean=float(rg.mean()),
        rg_std=float(rg.std()),
        nearest_rmsd_mean=float(near.mean()),
        nearest_rmsd_min=float(near.min()),
        passing=float(_passing(d, clashes, mirror).mean()),
    )
