"""Protein structure ensembles: multi-model PDB/mmCIF files and MD trajectories ↔ coordinates.

Reading goes through MDAnalysis (the ``structure`` extra), imported only here and only when a
file is read; mmCIF goes through gemmi (same extra), which reads every model. Writing
multi-model PDB needs nothing beyond numpy; mmCIF is written with gemmi
(:func:`write_structures` picks by the file name). Imports nothing from the model stack.
"""

from __future__ import annotations

import dataclasses
import re
import tempfile
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from biovae.data._messages import UNREADABLE, check_gzip
from biovae.data._text import check_utf8, without_bom
from biovae.data.chains import NO_CHAIN, chain_selection, check_chains
from biovae.data.dataset import Dataset
from biovae.data.frame_index import frame_positions
from biovae.data.mmcif import is_mmcif, read_mmcif
from biovae.data.pdb_models import check_same_models, is_pdb
from biovae.data.pdb_write import pdb_text as pdb_text
from biovae.data.pdb_write import write_pdb as write_pdb
from biovae.data.residues import SELECTIONS, amino_acids
from biovae.data.same_atoms import check_same_atoms as check_same_atoms
from biovae.data.structure_inputs import TRAJECTORY_SUFFIXES as TRAJECTORY_SUFFIXES
from biovae.data.structure_inputs import check_coordinates, check_paths, frame_names, read_folder
from biovae.data.structure_out import write_structures as write_structures
from biovae.data.trajectory_ends import check_whole_frames
from biovae.errors import DataError, require

#: Trajectory formats that carry coordinates but no atom names: they need a topology file.
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
    icodes
        ``n_atoms`` insertion codes (``""`` for none, e.g. ``"A"`` of residue 52A; default:
        none).
    selected_chains
        The chains the file was read with (``read_structures(chains=...)``; ``None``: every
        chain): a model fitted on these frames reads new files with the same chains.
    segids
        ``n_atoms`` segment ids (``""`` for none; default: none), written to PDB columns
        73–76 with a blank chain id: atoms without a chain id are named and selected by them
        (:mod:`biovae.data.chains`), so an atom's segid, where it has one, is its chain id.
    frame_ids
        One id per frame, the ids of records made from them (default: ``frame_0``,
        ``frame_1``, ...; a folder's frames are named by their files:
        :func:`~biovae.data.structure_inputs.folder_frame_names`).
    frame_numbers
        The number of each frame as read, its records' ``frame`` metadata (default: 0, 1,
        ..., its place in the file, trajectory or folder); a selection ``frames[idx]`` keeps
        them, as it keeps the ids.

    Frames are selected as numpy selects rows, into a new ensemble of the same atoms:
    ``frames[3]`` (one frame), ``frames[10:20]``, ``frames[[0, 5]]``, ``frames[mask]``
    (:func:`~biovae.data.frame_index.frame_positions`), so scikit-learn splits them
    (``cross_val_score``, ``GridSearchCV``).
    """

    coords: np.ndarray
    atom_names: tuple[str, ...]
    res_names: tuple[str, ...]
    res_ids: np.ndarray
    chain_ids: tuple[str, ...]
    source: str = ""
    icodes: tuple[str, ...] = ()
    selected_chains: tuple[str, ...] | None = None
    segids: tuple[str, ...] = ()
    frame_ids: tuple[str, ...] = ()
    frame_numbers: np.ndarray | Sequence[int] = ()

    def __post_init__(self) -> None:
        c = np.asarray(self.coords, dtype=np.float32)
        object.__setattr__(self, "coords", c)
        object.__setattr__(self, "res_ids", np.asarray(self.res_ids, dtype=np.int64))
        n_atoms = c.shape[1] if c.ndim == 3 else -1
        if c.ndim != 3 or c.shape[2] != 3 or len(self.atom_names) != n_atoms:
            raise DataError(f"{self.source}: coordinates must be (frames, atoms, 3)")
        icodes = tuple(str(i).strip() for i in self.icodes) or ("",) * n_atoms
        object.__setattr__(self, "icodes", icodes)
        segids = tuple(str(i).strip() for i in self.segids) or ("",) * n_atoms
        object.__setattr__(self, "segids", segids)
        if any(segids) and len(segids) == len(self.chain_ids):  # (a wrong length: refused below)
            chain_ids = tuple(g or c for c, g in zip(self.chain_ids, segids))
            object.__setattr__(self, "chain_ids", chain_ids)
        # one entry per atom, else feature names and PDB records pair atoms with other residues
        for what, values in (
            ("residue names", self.res_names),
            ("residue numbers", self.res_ids.ravel()),
            ("chain ids", self.chain_ids),
            ("insertion codes", icodes),
            ("segment ids", segids),
        ):
            if len(values) != n_atoms:
                raise DataError(
                    f"{self.source}: {len(values)} {what} for {n_atoms} atoms; give one per atom"
                )
        object.__setattr__(self, "selected_chains", chain_selection(self.selected_chains))
        if not np.isfinite(c).all():
            raise DataError(f"{self.source}: coordinates contain NaN or infinite values")
        if self.res_ids.ndim != 1:
            raise DataError(f"{self.source}: residue numbers must be one number per atom")
        if self.frame_ids and len(self.frame_ids) != len(c):
            raise DataError(f"{self.source}: {len(self.frame_ids)} frame ids for {len(c)} frames")
        numbers = np.asarray(self.frame_numbers, dtype=np.int64).ravel()
        object.__setattr__(self, "frame_numbers", numbers)
        if len(numbers) and len(numbers) != len(c):
            raise DataError(f"{self.source}: {len(numbers)} frame numbers for {len(c)} frames")

    def __len__(self) -> int:
        return int(self.coords.shape[0])

    @property
    def n_atoms(self) -> int:
        return int(self.coords.shape[1])

    @property
    def shape(self) -> tuple[int, ...]:
        """``(frames, atoms, 3)``, the shape of :attr:`coords` (scikit-learn counts by it)."""
        return self.coords.shape

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        """``np.asarray(frames)``: the coordinates ``(frames, atoms, 3)`` (not, as for a sequence
        of frames, each frame taken apart again: a one-frame ensemble is one frame long)."""
        return self.coords.astype(dtype or self.coords.dtype, copy=bool(copy))

    def __getitem__(self, key) -> Structures:
        """The frames ``key`` selects, in its order, as a new ensemble: their coordinates, ids
        and numbers; the atoms (names, residues, chains) are the same. An IndexError names a
        position out of range, a mask of another length or a frame selected twice."""
        rows = frame_positions(key, len(self), self.source)
        ids = self.frame_ids or frame_names(len(self))
        numbers = self.frame_numbers if len(self.frame_numbers) else np.arange(len(self))
        return dataclasses.replace(
            self,
            coords=self.coords[rows],
            frame_ids=tuple(ids[i] for i in rows),
            frame_numbers=numbers[rows],
        )

    def with_coords(self, coords: np.ndarray) -> Structures:
        """Same atoms, new ``(m, n_atoms, 3)`` coordinates (other frames: named ``frame_0``,
        ...)."""
        return dataclasses.replace(self, coords=coords, frame_ids=(), frame_numbers=())

    def residue_labels(self) -> tuple[str, ...]:
        """Residue number and insertion code of each atom: ``"52"``, ``"52A"``."""
        return tuple(f"{i}{c}" for i, c in zip(self.res_ids, self.icodes))

    def features(self) -> tuple[str, ...]:
        """Feature names ``chain:resname:resid:atom:axis``, three per atom; ``resid`` carries
        the insertion code (``A:ALA:52A:CA:x``), a residue without one is named as before;
        ``chain`` is the chain id, or the segid of an atom without one (``PROA:ALA:52:CA:x``)."""
        return tuple(
            f"{c}:{r}:{i}:{a}:{ax}"
            for c, r, i, a in zip(
                self.chain_ids, self.res_names, self.residue_labels(), self.atom_names
            )
            for ax in AXES
        )

    def to_dataset(self, coords: np.ndarray | None = None) -> Dataset:
        """Flattened ``(n, 3·atoms)`` records with a ``frame`` metadata column
        (:attr:`frame_numbers`), named by :attr:`frame_ids` (``coords``: these frames moved,
        e.g. superposed)."""
        c = self.coords if coords is None else coords
        ids = self.frame_ids if len(self.frame_ids) == len(c) else frame_names(len(c))
        numbers = self.frame_numbers if len(self.frame_numbers) == len(c) else np.arange(len(c))
        frame = numbers.astype(np.float64)
        return Dataset(
            c.reshape(len(c), -1), ids, self.features(), {"frame": frame}, None, self.source
        )


def atoms_from_features(
    features: tuple[str, ...], source: str = "model", chains: tuple[str, ...] | None = None
) -> Structures:
    """Atom names of a model from its feature names (no coordinates: zero frames), read with
    the chains ``chains``."""
    parts = [f.split(":") for f in features[::3]]
    labels = [_RESIDUE.fullmatch(p[2]) if len(p) == 5 else None for p in parts]
    if not parts or not all(labels):
        raise DataError(f"{source}: is not a structure model (features are not chain:res:id:atom)")
    chain_ids, res, _, atoms, _ = zip(*parts)
    ids, icodes = zip(*(m.groups() for m in labels))
    coords = np.zeros((0, len(parts), 3), dtype=np.float32)
    ids = np.asarray(ids, dtype=np.int64)
    return Structures(coords, atoms, res, ids, chain_ids, source, icodes, chains)


#: A residue label of a feature name: its number and insertion code (``52``, ``52A``, ``-3``).
_RESIDUE = re.compile(r"(-?\d+)(\D?)")


def read_structures(
    path: str | Path,
    topology: str | Path | None = None,
    select: str = "ca",
    chains: str | Sequence[str] | None = None,
) -> Structures:
    """Read every frame of a structure file or trajectory and keep the selected atoms.

    Parameters
    ----------
    path
        Multi-model PDB/mmCIF/GRO, or a trajectory (DCD/XTC/TRR/NetCDF) with ``topology``
        (mmCIF with ``gemmi``, every model a frame), or a folder of PDB/mmCIF files (in
        natural name order, frames named by their files: :attr:`Structures.frame_ids`).
    topology
        Topology (PSF/PDB/GRO/PRMTOP...) giving atom names for a trajectory.
    select
        ``"ca"`` (Cα atoms, default) or ``"backbone"`` (N, CA, C, O).
    chains
        Chain ids to keep, e.g. ``("A",)`` (a string is one id; default ``None``: every chain),
        as the file writes them, case-sensitive: PDB chainID, mmCIF ``auth_asym_id``; atoms
        without one by their segid (:mod:`biovae.data.chains`). Atoms stay in file order; a
        chain the file lacks is a one-line error naming the chains it has.
    """
    path = Path(path)
    if path.is_dir():  # its PDB/mmCIF files, which name their own atoms: one ensemble
        return read_folder(path, lambda f: read_structures(f, None, select, chains))
    check_paths(path, topology, select)
    chains = chain_selection(chains)
    if is_mmcif(path):  # every model (MDAnalysis reads only the first); it names its atoms
        coords, atoms = read_mmcif(path, select, chains)
        chain, resid, icode, resname, name = zip(*atoms)
        if select == "backbone" and set(name) != set(_BACKBONE):
            _check_atoms(path, _Names(name), select)
        ids = np.asarray(resid)
        return Structures(coords, name, resname, ids, chain, str(path), icode, chains)
    if is_pdb(path):  # MDAnalysis pairs the atoms of later models with model 1's by position
        check_same_models(path, chains)
    universe = _universe(path, topology)
    check_coordinates(universe, path)
    atoms = _first_conformers(_amino_acid_atoms(universe, select))
    if chains is not None and len(atoms):
        labels = chain_labels(atoms)
        check_chains(path, chains, labels)
        atoms = atoms[np.isin(labels, chains)]
    _check_atoms(path, atoms, select)
    try:
        coords = np.stack([atoms.positions.copy() for _ in universe.trajectory])
    except (ValueError, IndexError, *UNREADABLE) as exc:
        check_gzip(path, "the structure file")  # a damaged .gz is no matter of frames
        raise DataError(
            f"{path}: cannot read every frame ({_first_line(exc)}); every frame must hold the "
            "same atoms, so split or clean the file"
        ) from None
    if path.suffix.lower() in TRAJECTORY_SUFFIXES:
        check_whole_frames(path, universe.trajectory)
    ids = getattr(atoms, "chainIDs", None)  # none from a PSF or GRO topology
    ids = tuple(str(c) for c in ids) if ids is not None else ("",) * len(atoms)
    # the chain of an atom without a chain id is its segid (chain_labels): its chain id in
    # Structures and feature names, written to columns 73-76
    segids = tuple("" if c or s == NO_CHAIN else s for c, s in zip(ids, chain_labels(atoms)))
    ids = tuple(c or NO_CHAIN for c in ids)
    icodes = getattr(atoms, "icodes", None)
    return Structures(
        coords,
        tuple(str(a) for a in atoms.names),
        tuple(str(r) for r in atoms.resnames),
        np.asarray(atoms.resids),
        ids,
        str(path),
        tuple(str(i) for i in icodes) if icodes is not None else (),
        chains,
        segids,
    )


def chain_labels(atoms) -> np.ndarray:
    """The chain of each MDAnalysis atom as :mod:`biovae.data.chains` names it: its chainID,
    else its segid (MDAnalysis's ``SYSTEM``, given where a PDB has neither, counts as none),
    else ``A``; as :func:`~biovae.data.pdb_models.chain_of` reads a PDB record."""
    n = len(atoms)
    ids = getattr(atoms, "chainIDs", None)
    segids = getattr(atoms, "segids", None)
    ids = np.asarray(ids if ids is not None else [""] * n, dtype=object)
    segids = np.asarray(segids if segids is not None else [""] * n, dtype=object)
    segids = np.where(segids == "SYSTEM", "", segids)
    return np.asarray([c or s or NO_CHAIN for c, s in zip(ids, segids)], dtype=object)


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
    """The MDAnalysis Universe of ``path`` (with ``topology``): a file that starts with a
    byte-order mark is read from a copy without it, frames held in memory so the copy can go."""
    mda = require("MDAnalysis", "structure")
    files = (topology, path) if topology is not None else (path,)
    try:
        with warnings.catch_warnings(), tempfile.TemporaryDirectory(prefix="biovae-") as tmp:
            warnings.simplefilter("ignore")
            plain = [without_bom(f, Path(tmp) / str(i)) for i, f in enumerate(files)]
            return mda.Universe(*map(str, plain), in_memory=plain[-1] != Path(path))
    except (ValueError, TypeError, KeyError, IndexError, *UNREADABLE) as exc:
        for named in (topology, path):  # a damaged .gz (zlib.error): say so, and which file
            if named is not None:
                check_gzip(named, "the structure file")
            if named is not None and is_pdb(Path(named)):  # MDAnalysis names no encoding
                check_utf8(named, "the structure file")
        where = f"{path} with topology {topology}" if topology else str(path)
        hint = "frames must all have the same atoms as the topology"
        if isinstance(exc, (EOFError, IndexError)) or "Compressed file ended" in str(exc):
            hint = "the file holds no atoms or is cut short; check that it is a whole structure"
        raise DataError(f"{where}: cannot read structures ({_first_line(exc)}); {hint}") from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
