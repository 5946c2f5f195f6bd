"""The structure files given: their checks (they exist and are text where they should be, a
trajectory has a topology, a file holds coordinates), and a folder of them read as one ensemble.

A folder (NMR models or predictions saved one per file, MD snapshots written as PDBs) is read
file by file in natural name order (``m2.pdb`` before ``m10.pdb``); every model of every file
is a frame. Frames are named here (:func:`frame_names`, :func:`folder_frame_names`): the
ids of embed tables and reports. Imports nothing from the model stack.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from biovae.data._text import check_line_ends, check_not_empty, check_utf8
from biovae.data.mmcif import is_mmcif
from biovae.data.pdb_models import is_pdb
from biovae.data.residues import SELECTIONS
from biovae.data.same_atoms import check_same_atoms
from biovae.errors import DataError, MissingFileError

#: file suffixes of coordinate-only trajectories (they need a topology for atom names)
TRAJECTORY_SUFFIXES = (".dcd", ".xtc", ".trr", ".nc", ".ncdf", ".xyz")

if TYPE_CHECKING:
    from biovae.data.structure import Structures


def structure_files(folder: Path) -> list[Path]:
    """The PDB and mmCIF files of ``folder`` (not its subfolders), in natural name order;
    a one-line error when it holds none."""
    files = [p for p in folder.iterdir() if p.is_file() and (is_pdb(p) or is_mmcif(p))]
    if not files:
        raise DataError(
            f"{folder}: is a folder without PDB or mmCIF files (.pdb, .ent, .cif, .mmcif, "
            "optionally .gz); give a structure file, a trajectory, or a folder of such files"
        )
    return sorted(files, key=_natural)


def read_folder(folder: Path, read: Callable[[Path], Structures]) -> Structures:
    """Every frame of every structure file of ``folder`` as one ensemble, in file order.

    ``read`` reads one file (:func:`~biovae.data.structure.read_structures` with the options
    given); a file whose atoms differ from the first file's is refused
    (:func:`~biovae.data.same_atoms.check_same_atoms`). The atoms are named as in the first file.
    """
    files = structure_files(folder)
    first = read(files[0])
    coords = [first.coords]
    for path in files[1:]:
        data = read(path)
        fix = f"every file of the folder {folder} must hold the same atoms; move {path.name} out"
        check_same_atoms(data, first, fix, files[0].name)
        coords.append(data.coords)
    ids = folder_frame_names(files, [len(c) for c in coords])
    return dataclasses.replace(
        first, coords=np.concatenate(coords), source=str(folder), frame_ids=ids
    )


def frame_names(n: int) -> tuple[str, ...]:
    """``frame_0``, ``frame_1``, ...: the ids of the ``n`` frames of one file or trajectory."""
    return tuple(f"frame_{i}" for i in range(n))


def folder_frame_names(files: Sequence[Path], counts: Sequence[int]) -> tuple[str, ...]:
    """The ids of a folder's frames, ``counts[i]`` of them read from ``files[i]``: a file's
    name without its format suffix (``m2`` of ``m2.pdb`` or ``m2.cif.gz``), and for a file of
    several models each model as ``m2_model1``, ``m2_model2``, ... (numbered from 1 in file
    order, as messages number them). Where two files share a name without suffix (``m2.pdb``
    and ``m2.cif``) or two ids would be alike, every frame is named by its whole file name
    instead (``m2.pdb``, ``m2.cif_model1``), which a folder never repeats."""
    stems = [_stem(p) for p in files]
    ids = _ids(stems, counts)
    if len(set(stems)) < len(stems) or len(set(ids)) < len(ids):
        ids = _ids([p.name for p in files], counts)
    return ids


def _ids(names: Sequence[str], counts: Sequence[int]) -> tuple[str, ...]:
    return tuple(
        name if n == 1 else f"{name}_model{k}"
        for name, n in zip(names, counts)
        for k in range(1, n + 1)
    )


def _stem(path: Path) -> str:
    """The file name without a compression suffix (``.gz``, ``.bz2``) and format suffix."""
    name = re.sub(r"\.(gz|bz2)$", "", path.name, flags=re.IGNORECASE)
    return Path(name).stem or name


def check_coordinates(universe, path: Path) -> None:
    """A one-line error unless the MDAnalysis ``universe`` read from ``path`` has coordinates
    (a PSF or PRMTOP topology alone has none)."""
    if not hasattr(universe, "trajectory"):  # the property raises AttributeError without one
        raise DataError(
            f"{path}: holds atoms but no coordinates (a topology); give the coordinates "
            f"(trajectory, PDB, mmCIF, GRO) and pass {path.name} with --topology"
        )


def _natural(path: Path) -> list:
    """Sort key of a file name with its numbers compared as numbers (``m2`` before ``m10``)."""
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", path.name)]


def check_paths(path: Path, topology: str | Path | None, select: str) -> None:
    """One-line errors for an unknown selection, a missing or empty file, text that MDAnalysis
    would misread, and a trajectory without its topology."""
    if select not in SELECTIONS:
        raise DataError(
            f"unknown atom selection {select!r}; choose one of: {', '.join(SELECTIONS)}"
        )
    given = [Path(p) for p in (path, topology) if p is not None]
    for p in given:
        if not p.is_file():
            raise MissingFileError(f"structure file {p} does not exist; check the path")
    for p in given:  # MDAnalysis misreads these without saying so
        if is_pdb(p) or is_mmcif(p):
            check_not_empty(p)
        if is_pdb(p):
            check_line_ends(p, "the PDB file")
        else:  # GRO, PSF, ...: text too (DCD and XTC are binary: only UTF-16 is looked for)
            check_utf8(p, "the structure file", whole=False)
    if topology is None and path.suffix.lower() in TRAJECTORY_SUFFIXES:
        raise DataError(
            f"{path}: a {path.suffix} trajectory has no atom names; pass its topology with "
            "--topology FILE (PSF, PDB, GRO, ...)"
        )
