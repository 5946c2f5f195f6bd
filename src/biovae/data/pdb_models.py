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

With a chain selection only the atoms of the selected chains are compared: a model whose other
chains differ is read, as long as it holds as many atoms and the selected ones at the same
places (MDAnalysis reads by position; a model of another size is refused by MDAnalysis).
"""

from __future__ import annotations

import bz2
import gzip
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from biovae.data._messages import UNREADABLE
from biovae.data.chains import NO_CHAIN
from biovae.errors import DataError

T = TypeVar("T")

#: Names MDAnalysis reads as PDB (optionally compressed).
PDB_SUFFIXES = (".pdb", ".ent")
_COMPRESSED = {".gz": gzip.open, ".bz2": bz2.open}


def is_pdb(path: Path) -> bool:
    name = path.name.lower()
    for ending in _COMPRESSED:
        name = name.removesuffix(ending)
    return name.endswith(PDB_SUFFIXES)


def check_same_models(path: Path, chains: tuple[str, ...] | None = None) -> None:
    """A one-line error unless every MODEL of the PDB file ``path`` holds the atoms of the
    first, in the same order (only those of ``chains``, when given, at the same places); a file
    it cannot read is left to MDAnalysis."""
    opener = _COMPRESSED.get(path.suffix.lower(), open)
    try:
        with opener(path, "rt", encoding="latin-1", newline=None) as fh:
            _compare(path, fh, chains)
    except UNREADABLE:  # e.g. a gzip file cut short or damaged (zlib.error)
        return


def chain_of(record: str) -> str:
    """The chain of an atom record as MDAnalysis names it (:mod:`biovae.data.chains`): its
    chainID, else its segid, else ``A``."""
    return record[21:22].strip() or record[72:76].strip() or NO_CHAIN


def _compare(path: Path, lines, chains: tuple[str, ...] | None) -> None:
    first: _Model | None = None
    atoms: _Model | None = None  # of the model being read
    model = start = 0
    for number, line in enumerate(lines, start=1):
        if line.startswith("MODEL"):
            first = _check(path, model, first, atoms, start)
            atoms, model, start = _Model(), model + 1, number
        elif line.startswith("ENDMDL"):
            first, atoms = _check(path, model, first, atoms, start), None
        elif line.startswith(("ATOM", "HETATM")):
            if atoms is None:  # atoms outside MODEL records make a model of their own
                atoms, model, start = _Model(), model + 1, number
            if chains is None or chain_of(line) in chains:
                atoms.keys.append(line[12:27].rstrip("\r\n").ljust(15))
                atoms.places.append(atoms.size)
            atoms.size += 1
    _check(path, model, first, atoms, start)


@dataclass
class _Model:
    """The selected atom records of one model (columns 13–27), their places among its atom
    records, and how many it holds."""

    keys: list[str] = field(default_factory=list)
    places: list[int] = field(default_factory=list)
    size: int = 0


def _check(
    path: Path, model: int, first: _Model | None, atoms: _Model | None, start: int
) -> _Model | None:
    """The first model's atoms; an error when ``atoms`` (of model ``model``, which starts on
    line ``start``; ``None`` outside a model) differ from them."""
    if atoms is None or first is None:
        return first if atoms is None else atoms
    found = first_difference(atoms.keys, first.keys, _atom)
    if not found and atoms.places != first.places:  # another chain differs before them
        i = next(k for k, (a, b) in enumerate(zip(atoms.places, first.places)) if a != b)
        found = (
            f"{_atom(atoms.keys[i])} is its atom {atoms.places[i] + 1} but model 1's atom "
            f"{first.places[i] + 1} (another chain differs before it)"
        )
    if not found and atoms.size != first.size:
        found = f"{atoms.size} atoms against {first.size} in all chains"
    if not found:
        return first
    raise DataError(
        f"{path}: model {model} (line {start}) holds other atoms than model 1: {found}; every "
        "model must hold the same atoms in the same order, so remove or complete that model"
    )


def first_difference(these: Sequence[T], first: Sequence[T], describe: Callable[[T], str]) -> str:
    """Where a model's atoms ``these`` first differ from model 1's ``first``, each atom named
    by ``describe`` (empty when they do not); the mmCIF reader says it the same way."""
    if list(these) == list(first):
        return ""
    i = next((k for k, (a, b) in enumerate(zip(these, first)) if a != b), None)
    if i is not None:
        return f"atom {i + 1} is {describe(these[i])} where model 1 has {describe(first[i])}"
    n, m = len(these), len(first)
    other = f"it lacks {describe(first[n])}" if n < m else f"it adds {describe(these[m])}"
    return f"{n} atoms against {m} ({other})"


def _atom(key: str) -> str:
    """``CA of GLY 52A, chain B`` (altloc ``B``) from columns 13–27 of an atom record."""
    name, alt, res, chain, number = key[:4], key[4], key[5:9], key[9], key[10:15]
    where = f"{name.strip()} of {res.strip()} {number.strip()}"  # number: with insertion code
    where += f", chain {chain}" if chain.strip() else ""
    return where + (f" (altloc {alt})" if alt.strip() else "")
