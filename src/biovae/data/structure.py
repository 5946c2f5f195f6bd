"""Protein structure ensembles: multi-model PDB/mmCIF files and MD trajectories ↔ coordinates.

Reading goes through MDAnalysis (the ``structure`` extra), imported only here and only when a
file is read; mmCIF goes through gemmi (same extra), which reads every model. Writing
multi-model PDB needs nothing beyond numpy. Imports nothing from the model stack.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from biovae.data.dataset import Dataset
from biovae.data.mmcif import is_mmcif, read_mmcif
from biovae.data.pdb_models import check_same_models, is_pdb
from biovae.data.residues import SELECTIONS, amino_acids, sequence
from biovae.data.trajectory_ends import check_whole_frames
from biovae.data.writers import atomic_open
from biovae.errors import DataError, MissingFileError, require

#: Trajectory formats that carry coordinates but no atom names: they need a topology file.
TRAJECTORY_SUFFIXES = (".dcd", ".xtc", ".trr", ".nc", ".ncdf", ".xyz")
AXES = ("x", "y", "z")


@dataclass(frozen=True, eq=False)
class Structures:
    """An ensemble of conformations of one molecule.

    Parameters
    ----------
    coords
        ``(n_frames, n_atoms, 3)`` float32 coordinates in Å.
    atom_names, res_names, chain_ids
        ``n_atoms`` strings each (e.g. ``"CA"``, ``"ALA"``, ``"A"``).
    res_ids
        ``(n_atoms,)`` residue numbers.
    source
        File name, used in messages.
    """

    coords: np.ndarray
    atom_names: tuple[str, ...]
    res_names: tuple[str, ...]
    res_ids: np.ndarray
    chain_ids: tuple[str, ...]
    source: str = ""

    def __post_init__(self) -> None:
        c = np.asarray(self.coords, dtype=np.float32)
        object.__setattr__(self, "coords", c)
        object.__setattr__(self, "res_ids", np.asarray(self.res_ids, dtype=np.int64))
        n_atoms = c.shape[1] if c.ndim == 3 else -1
        if c.ndim != 3 or c.shape[2] != 3 or len(self.atom_names) != n_atoms:
            raise DataError(f"{self.source}: coordinates must be (frames, atoms, 3)")
        if not np.isfinite(c).all():
            raise DataError(f"{self.source}: coordinates contain NaN or infinite values")

    def __len__(self) -> int:
        return int(self.coords.shape[0])

    @property
    def n_atoms(self) -> int:
        return int(self.coords.shape[1])

    def with_coords(self, coords: np.ndarray) -> Structures:
        """Same atoms, new ``(m, n_atoms, 3)`` coordinates."""
        return Structures(
            coords, self.atom_names, self.res_names, self.res_ids, self.chain_ids, self.source
        )

    def features(self) -> tuple[str, ...]:
        """Feature names ``chain:resname:resid:atom:axis``, three per atom."""
        return tuple(
            f"{c}:{r}:{i}:{a}:{ax}"
            for c, r, i, a in zip(self.chain_ids, self.res_names, self.res_ids, self.atom_names)
            for ax in AXES
        )

    def to_dataset(self, coords: np.ndarray | None = None) -> Dataset:
        """Flattened ``(n, 3·atoms)`` records with a ``frame`` metadata column."""
        c = self.coords if coords is None else coords
        ids = [f"frame_{i}" for i in range(len(c))]
        frame = np.arange(len(c), dtype=np.float64)
        return Dataset(
            c.reshape(len(c), -1), ids, self.features(), {"frame": frame}, None, self.source
        )


def atoms_from_features(features: tuple[str, ...], source: str = "model") -> Structures:
    """Atom names of a model from its feature names (no coordinates: zero frames)."""
    parts = [f.split(":") for f in features[::3]]
    if not parts or any(len(p) != 5 for p in parts):
        raise DataError(f"{source}: is not a structure model (features are not chain:res:id:atom)")
    chains, res, ids, atoms, _ = zip(*parts)
    coords = np.zeros((0, len(parts), 3), dtype=np.float32)
    return Structures(coords, atoms, res, np.asarray(ids, dtype=np.int64), chains, source)


def read_structures(
    path: str | Path, topology: str | Path | None = None, select: str = "ca"
) -> Structures:
    """Read every frame of a structure file or trajectory and keep the selected atoms.

    Parameters
    ----------
    path
        Multi-model PDB/mmCIF/GRO, or a trajectory (DCD/XTC/TRR/NetCDF) with ``topology``
        (mmCIF is read with ``gemmi``, every model a frame: :mod:`biovae.data.mmcif`).
    topology
        Topology (PSF/PDB/GRO/PRMTOP...) giving atom names for a trajectory.
    select
        ``"ca"`` (Cα atoms, default) or ``"backbone"`` (N, CA, C, O).
    """
    path = Path(path)
    _check_paths(path, topology, select)
    if is_mmcif(path):  # every model (MDAnalysis reads only the first); it names its atoms
        coords, atoms = read_mmcif(path, select)
        chain, resid, resname, name = zip(*atoms)
        if select == "backbone" and set(name) != set(_BACKBONE):
            _check_atoms(path, _Names(name), select)
        return Structures(coords, name, resname, np.asarray(resid), chain, str(path))
    if is_pdb(path):  # MDAnalysis pairs the atoms of later models with model 1's by position
        check_same_models(path)
    universe = _universe(path, topology)
    atoms = _first_conformers(_amino_acid_atoms(universe, select))
    _check_atoms(path, atoms, select)
    try:
        coords = np.stack([atoms.positions.copy() for _ in universe.trajectory])
    except (ValueError, OSError, EOFError, IndexError) as exc:
        raise DataError(
            f"{path}: cannot read every frame ({_first_line(exc)}); every frame must hold the "
            "same atoms, so split or clean the file"
        ) from None
    if path.suffix.lower() in TRAJECTORY_SUFFIXES:
        check_whole_frames(path, universe.trajectory)
    chains = getattr(atoms, "chainIDs", None)
    chains = tuple(str(c) or "A" for c in chains) if chains is not None else ("A",) * len(atoms)
    return Structures(
        coords,
        tuple(str(a) for a in atoms.names),
        tuple(str(r) for r in atoms.resnames),
        np.asarray(atoms.resids),
        chains,
        str(path),
    )


_BACKBONE = SELECTIONS["backbone"]


def _amino_acid_atoms(universe, select: str):
    """The selected atoms of amino-acid residues, in file order, by the rule every reader
    shares (:mod:`biovae.data.residues`: modified residues such as MSE and SEP, and force-field
    names such as HSD, count; a calcium ion named CA does not)."""
    atoms = universe.select_atoms("name " + " ".join(SELECTIONS[select]))
    keep = amino_acids(atoms.resnames)
    return atoms[np.isin(atoms.resnames, list(keep))] if len(atoms) else atoms


def _first_conformers(atoms):
    """``atoms`` with one conformer of each atom: an alternate location (altLoc A, B, ...)
    keeps its first, as the mmCIF reader does (two Cα of one residue would read as a 0–2 Å
    "bond" and a chain break)."""
    altlocs = getattr(atoms, "altLocs", None)
    if altlocs is None or not any(altlocs):
        return atoms
    chains = getattr(atoms, "chainIDs", None)
    chains = chains if chains is not None else [""] * len(atoms)
    icodes = getattr(atoms, "icodes", None)
    icodes = icodes if icodes is not None else [""] * len(atoms)
    seen, keep = set(), np.zeros(len(atoms), dtype=bool)
    for i, key in enumerate(zip(chains, atoms.resids, icodes, atoms.names)):
        if key not in seen:
            seen.add(key)
            keep[i] = True
    return atoms[keep]


@dataclass(frozen=True)
class _Names:
    """What :func:`_check_atoms` reads of an atom group: its length and names."""

    names: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.names)


def _check_paths(path: Path, topology: str | Path | None, select: str) -> None:
    if select not in SELECTIONS:
        raise DataError(
            f"unknown atom selection {select!r}; choose one of: {', '.join(SELECTIONS)}"
        )
    for p in (path, topology):
        if p is not None and not Path(p).is_file():
            raise MissingFileError(f"structure file {p} does not exist; check the path")
    if topology is None and path.suffix.lower() in TRAJECTORY_SUFFIXES:
        raise DataError(
            f"{path}: a {path.suffix} trajectory has no atom names; pass its topology with "
            "--topology FILE (PSF, PDB, GRO, ...)"
        )


def _check_atoms(path: Path, atoms, select: str) -> None:
    if len(atoms) == 0:
        raise DataError(
            f"{path}: no amino-acid atoms named {'/'.join(SELECTIONS[select])} (selection "
            f"'{select}'); check that the file holds a protein"
        )
    if select == "backbone" and set(atoms.names) != set(_BACKBONE):
        raise DataError(
            f"{path}: the backbone selection needs N, CA, C and O atoms but the file has only "
            f"{', '.join(sorted(set(atoms.names)))}; give structures with the whole backbone, "
            "or model the Cα atoms (structure fit --select ca)"
        )


def _universe(path: Path, topology: str | Path | None):
    mda = require("MDAnalysis", "structure")
    args = (str(topology), str(path)) if topology is not None else (str(path),)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return mda.Universe(*args)
    except (ValueError, OSError, EOFError, TypeError, KeyError, IndexError) as exc:
        where = f"{path} with topology {topology}" if topology else str(path)
        hint = "frames must all have the same atoms as the topology"
        if isinstance(exc, (EOFError, IndexError)) or "Compressed file ended" in str(exc):
            hint = "the file holds no atoms or is cut short; check that it is a whole structure"
        raise DataError(f"{where}: cannot read structures ({_first_line(exc)}); {hint}") from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def check_same_atoms(
    data: Structures, reference: Structures, fix: str, what: str | None = None
) -> None:
    """A one-line error unless ``data`` selects the atoms of ``reference`` (e.g. a model's):
    as many, named alike in the same order, and in residues of the same protein. Renumbered
    residues, other chain ids, and force-field or modified names of the same amino acid (HSD
    for HIS, MSE for MET: :func:`~biovae.data.residues.sequence`) are the same atoms. When
    fewer than half of the residues agree it is another protein (an error); a few that differ,
    as in a mutant, give a warning naming the first. ``fix`` ends the error message; ``what``
    names the reference (default: its source)."""
    ref = what or reference.source or "the reference"
    if data.n_atoms != reference.n_atoms:
        raise DataError(
            f"{data.source}: {data.n_atoms} atoms selected but {ref} has {reference.n_atoms}; "
            + fix
        )
    names = np.asarray(data.atom_names) != np.asarray(reference.atom_names)
    if names.any():
        i = int(np.argmax(names))
        raise DataError(
            f"{data.source}: atom {i + 1} is {data.atom_names[i]} ({_residue(data, i)}) but "
            f"{ref}'s is {reference.atom_names[i]} ({_residue(reference, i)}); {fix}"
        )
    ca = np.flatnonzero(np.asarray(data.atom_names) == "CA")
    mine, theirs = (_parents(s, ca) for s in (data, reference))
    differ = np.flatnonzero(mine != theirs)
    if not len(differ):
        return
    i, where = int(ca[differ[0]]), f"{len(differ)} of {len(ca)} residues"
    first = f"first: {_residue(data, i)} against {_residue(reference, i)}"
    if 2 * len(differ) > len(ca):
        raise DataError(f"{data.source}: {where} differ from {ref}'s ({first}); {fix}")
    warnings.warn(
        f"{data.source}: {where} differ from {ref}'s ({first}); their atoms are compared "
        "position by position",
        stacklevel=3,
    )


def _parents(s: Structures, rows: np.ndarray) -> np.ndarray:
    """One-letter parents of the residues at ``rows`` (the name itself where none is known)."""
    letters = sequence(s.res_names[i] for i in rows)
    return np.asarray([c if c != "?" else s.res_names[i] for c, i in zip(letters, rows)])


def _residue(s: Structures, i: int) -> str:
    return f"{s.res_names[i]} {s.res_ids[i]}"


def write_pdb(path: str | Path, structures: Structures) -> Path:
    """Write every frame as one MODEL of a PDB file (atomically); opens in PyMOL/ChimeraX."""
    with atomic_open(path, "w") as fh:  # compressed for a .gz name, like every output
        fh.write(pdb_text(structures))
    return Path(path)


def pdb_text(structures: Structures) -> str:
    """Multi-model PDB text of ``structures`` (ATOM records, MODEL/ENDMDL, END). What the
    fixed-width format cannot hold (coordinates beyond −999.999 … 9999.999 Å, residue numbers
    beyond −999 … 9999, chain ids of several letters) is a one-line error, not a file that
    reads back wrong."""
    s = structures
    _check_pdb_fields(s)
    lines = []
    for m, xyz in enumerate(s.coords, start=1):
        lines.append(f"MODEL     {m:4d}")
        for i, (x, y, z) in enumerate(xyz):
            name = s.atom_names[i]
            name = f" {name:<3s}" if len(name) < 4 else name[:4]
            lines.append(
                f"ATOM  {(i + 1) % 100000:5d} {name:4s} {s.res_names[i][:3]:>3s} "
                f"{(s.chain_ids[i] or 'A')}{int(s.res_ids[i]):4d}    "
                f"{x:8.3f}{y:8.3f}{z:8.3f}  1.00  0.00          {name.strip()[:1]:>2s}"
            )
        lines.append("ENDMDL")
    lines.append("END")
    return "\n".join(lines) + "\n"


def _check_pdb_fields(s: Structures) -> None:
    where = f"{s.source or 'structures'}: cannot write PDB"
    if len(s) and not ((s.coords > -999.9995).all() and (s.coords < 9999.9995).all()):
        raise DataError(f"{where}: a coordinate lies outside −999.999 … 9999.999 Å")
    if len(s.res_ids) and not ((s.res_ids >= -999).all() and (s.res_ids <= 9999).all()):
        raise DataError(f"{where}: a residue number lies outside −999 … 9999; renumber them")
    long = [c for c in s.chain_ids if len(c) > 1]
    if long:
        raise DataError(f"{where}: chain id {long[0]!r} has more than one letter; rename it")
