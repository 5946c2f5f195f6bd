"""Whether two ensembles select the same atoms (:func:`check_same_atoms`): a model's and the
frames it is given, or the files of a folder. Imports nothing from the model stack."""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

import numpy as np

from biovae.data.residues import sequence
from biovae.errors import DataError

if TYPE_CHECKING:
    from biovae.data.structure import Structures


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
    return f"{s.res_names[i]} {s.res_ids[i]}{s.icodes[i]}"
