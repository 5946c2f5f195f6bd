"""Multi-model PDB text of structure ensembles (:class:`~biovae.data.structure.Structures`);
needs nothing beyond numpy. Records follow the PDB format v3.3: ATOM, a TER after the last
atom of each chain, MODEL/ENDMDL around every frame and END."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from biovae.data.chains import NO_CHAIN
from biovae.data.writers import atomic_open
from biovae.errors import DataError

if TYPE_CHECKING:
    from biovae.data.structure import Structures


#: MODEL serial numbers have four columns (11-14)
MAX_MODELS = 9999

#: What a user who hits a limit of the fixed-width format does instead.
USE_MMCIF = "write mmCIF instead (a file name ending in .cif)"


def check_model_count(n: int, what: str) -> None:
    """A one-line error, before any work, for more frames than one PDB file can number."""
    if n > MAX_MODELS:
        raise DataError(
            f"{what} is {n}, but a PDB file holds at most {MAX_MODELS} models; {USE_MMCIF}"
        )


def write_pdb(path: str | Path, structures: Structures) -> Path:
    """Write every frame as one MODEL of a PDB file (atomically); opens in PyMOL/ChimeraX."""
    text = pdb_text(structures)  # refused before the file is opened
    with atomic_open(path, "w") as fh:  # compressed for a .gz name, like every output
        fh.write(text)
    return Path(path)


def pdb_text(structures: Structures) -> str:
    """Multi-model PDB text of ``structures`` (ATOM records, a TER after each chain's last
    atom, MODEL/ENDMDL, END). What the fixed-width format cannot hold (more than 9999 models,
    coordinates beyond −999.999 … 9999.999 Å, residue numbers beyond −999 … 9999, chain ids or
    insertion codes of several letters, residue names or segment ids of more than four) is a
    one-line error (:func:`check_pdb_fields`), not a file that reads back wrong. The insertion
    code is column 27 of each ATOM record; a four-letter residue name (force-field names such
    as NALA, CALA) fills columns 18–21, as MDAnalysis, CHARMM and GROMACS write and read it,
    rather than being cut to a name that reads back as another residue or none. An atom named
    by its segment id (no chain id) has a blank column 22 and the segid in columns 73–76, so it
    reads back as the same chain.

    A TER record (columns 7–11 serial, 18–20 residue name, 22 chain, 23–26 residue number, 27
    insertion code) repeats the residue of the chain's last atom and takes the next serial
    number: the atoms after it continue from the one after that, in every model alike."""
    s = structures
    check_pdb_fields(s)
    ends = chain_ends(s)
    lines = []
    for m, xyz in enumerate(s.coords, start=1):
        lines.append(f"MODEL     {m:4d}")
        serial = 0
        for i, (x, y, z) in enumerate(xyz):
            serial += 1
            name = s.atom_names[i]
            name = f" {name:<3s}" if len(name) < 4 else name[:4]
            lines.append(
                f"ATOM  {serial % 100000:5d} {name:4s} {_residue(s, i)}   "
                f"{x:8.3f}{y:8.3f}{z:8.3f}  1.00  0.00      {s.segids[i]:<4s}{name.strip()[:1]:>2s}"
            )
            if i in ends:
                serial += 1
                lines.append(f"TER   {serial % 100000:5d}      {_residue(s, i)}")
        lines.append("ENDMDL")
    lines.append("END")
    return "\n".join(lines) + "\n"


def _residue(s: Structures, i: int) -> str:
    """Columns 18–27 of atom ``i``'s ATOM and TER records: residue name (18–20, 21 blank, or
    18–21 for a four-letter name), chain (22), residue number (23–26), insertion code (27)."""
    res = s.res_names[i]
    res = f"{res:>3s} " if len(res) < 4 else res
    return f"{res}{chain(s, i)}{int(s.res_ids[i]):4d}{s.icodes[i] or ' '}"


def chain(s: Structures, i: int) -> str:
    """Column 22 of atom ``i``: its chain id, blank for an atom named by its segid (columns
    73–76), which reads back as the same chain (:mod:`biovae.data.chains`)."""
    return " " if s.segids[i] else s.chain_ids[i] or NO_CHAIN


def chain_ends(s: Structures) -> frozenset[int]:
    """Indices of the atoms after which a chain ends: the last atom, and every atom whose
    successor has another chain id or segment id."""
    keys = [(chain(s, i), s.segids[i]) for i in range(s.n_atoms)]
    last = {s.n_atoms - 1} if s.n_atoms else set()
    return frozenset(i for i in range(s.n_atoms - 1) if keys[i] != keys[i + 1]) | last


def check_pdb_fields(s: Structures) -> None:
    """A one-line error naming the first value of ``s`` that a PDB file cannot hold (on
    ``s`` without frames: its atoms, before any are decoded), and mmCIF as the fix."""
    where = f"{s.source or 'structures'}: cannot write PDB"
    if len(s) > MAX_MODELS:  # columns 11-14 of MODEL: model 10000 would run into the next field
        raise DataError(f"{where}: {len(s)} models, at most 9999 fit; {USE_MMCIF}")
    if len(s) and not ((s.coords > -999.9995).all() and (s.coords < 9999.9995).all()):
        raise DataError(f"{where}: a coordinate lies outside −999.999 … 9999.999 Å; {USE_MMCIF}")
    if len(s.res_ids) and not ((s.res_ids >= -999).all() and (s.res_ids <= 9999).all()):
        raise DataError(
            f"{where}: a residue number lies outside −999 … 9999; renumber them or {USE_MMCIF}"
        )
    too_long = (
        ("residue name", s.res_names, 4, "four letters"),
        ("chain id", [chain(s, i) for i in range(s.n_atoms)], 1, "one letter"),  # segid: blank
        ("insertion code", s.icodes, 1, "one letter"),
        ("segment id", s.segids, 4, "four letters"),
    )
    for what, values, most, letters in too_long:
        long = [v for v in values if len(v) > most]
        if long:
            raise DataError(
                f"{where}: {what} {long[0]!r} has more than {letters}, the most its PDB "
                f"columns hold; {USE_MMCIF}"
            )
