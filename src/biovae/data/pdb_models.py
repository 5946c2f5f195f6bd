"""Whether every MODEL of a multi-model PDB file holds the same atoms, in the same order.

MDAnalysis takes the atoms (names, residues) of a PDB file from its first model and reads
every later model's coordinates by position: a model that lacks one residue but has another
(a residue missing from one NMR model, a ligand added), or that lists its atoms in another
order, has as many atoms and is read without a word, each coordinate given to the wrong atom.
Only a model with another number of atoms is refused (and MDAnalysis numbers its frames from
0, so its message names the model before the one at fault). Here the atom records of every
model (columns 13–27: atom name, alternate location, residue name, chain, residue number and
insertion code) are compared with the first model's, and the first difference is a one-line
error naming the model and line, as the mmCIF reader does for mmCIF.
"""

from __future__ import annotations

import bz2
import gzip
from pathlib import Path

from biovae.errors import DataError

#: Names MDAnalysis reads as PDB (optionally compressed).
PDB_SUFFIXES = (".pdb", ".ent")
_COMPRESSED = {".gz": gzip.open, ".bz2": bz2.open}


def is_pdb(path: Path) -> bool:
    name = path.name.lower()
    for ending in _COMPRESSED:
        name = name.removesuffix(ending)
    return name.endswith(PDB_SUFFIXES)


def check_same_models(path: Path) -> None:
    """A one-line error unless every MODEL of the PDB file ``path`` holds the atoms of the
    first, in the same order; a file it cannot read is left to MDAnalysis."""
    opener = _COMPRESSED.get(path.suffix.lower(), open)
    try:
        with opener(path, "rt", encoding="latin-1", newline=None) as fh:
            _compare(path, fh)
    except (OSError, EOFError):  # e.g. a gzip file cut short
        return


def _compare(path: Path, lines) -> None:
    first: list[str] | None = None
    atoms: list[str] | None = None  # of the model being read
    model = start = 0
    for number, line in enumerate(lines, start=1):
        if line.startswith("MODEL"):
            first = _check(path, model, first, atoms, start)
            atoms, model, start = [], model + 1, number
        elif line.startswith("ENDMDL"):
            first, atoms = _check(path, model, first, atoms, start), None
        elif line.startswith(("ATOM", "HETATM")):
            if atoms is None:  # atoms outside MODEL records make a model of their own
                atoms, model, start = [], model + 1, number
            atoms.append(line[12:27].rstrip("\r\n").ljust(15))
    _check(path, model, first, atoms, start)


def _check(
    path: Path, model: int, first: list[str] | None, atoms: list[str] | None, start: int
) -> list[str] | None:
    """The first model's atoms; an error when ``atoms`` (of model ``model``, which starts on
    line ``start``; ``None`` outside a model) differ from them."""
    if atoms is None or first is None:
        return first if atoms is None else atoms
    if atoms == first:
        return first
    i = next((k for k, (a, b) in enumerate(zip(atoms, first)) if a != b), None)
    if i is not None:
        found = f"atom {i + 1} is {_atom(atoms[i])} where model 1 has {_atom(first[i])}"
    elif len(atoms) < len(first):
        found = f"{len(atoms)} atoms against {len(first)} (it lacks {_atom(first[len(atoms)])})"
    else:
        found = f"{len(atoms)} atoms against {len(first)} (it adds {_atom(atoms[len(first)])})"
    raise DataError(
        f"{path}: model {model} (line {start}) holds other atoms than model 1: {found}; every "
        "model must hold the same atoms in the same order, so remove or complete that model"
    )


def _atom(key: str) -> str:
    """``CA of GLY 52A, chain B`` (altloc ``B``) from columns 13–27 of an atom record."""
    name, alt, res, chain, number = key[:4], key[4], key[5:9], key[9], key[10:15]
    where = f"{name.strip()} of {res.strip()} {number.strip()}"
    where += f", chain {chain}" if chain.strip() else ""
    return where + (f" (altloc {alt})" if alt.strip() else "")
