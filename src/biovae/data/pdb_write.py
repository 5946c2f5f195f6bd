"""Multi-model PDB text of structure ensembles (:class:`~biovae.data.structure.Structures`);
needs nothing beyond numpy."""

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


def check_model_count(n: int, what: str) -> None:
    """A one-line error, before any work, for more frames than one PDB file can number."""
    if n > MAX_MODELS:
        raise DataError(f"{what} is {n}, but a PDB file holds at most {MAX_MODELS} models")


def write_pdb(path: str | Path, structures: Structures) -> Path:
    """Write every frame as one MODEL of a PDB file (atomically); opens in PyMOL/ChimeraX."""
    with atomic_open(path, "w") as fh:  # compressed for a .gz name, like every output
        fh.write(pdb_text(structures))
    return Path(path)


def pdb_text(structures: Structures) -> str:
    """Multi-model PDB text of ``structures`` (ATOM records, MODEL/ENDMDL, END). What the
    fixed-width format cannot hold (more than 9999 models, coordinates beyond −999.999 …
    9999.999 Å, residue numbers beyond −999 … 9999, chain ids or insertion codes of several
    letters, residue names or segment ids of more than four) is a one-line error, not a file
    that reads back wrong. The insertion code is column 27 of each ATOM record; a four-letter
    residue name (force-field names such as NALA, CALA) fills columns 18–21, as MDAnalysis,
    CHARMM and GROMACS write and read it, rather than being cut to a name that reads back as
    another residue or none. An atom named by its segment id (no chain id) has a blank column
    22 and the segid in columns 73–76, so it reads back as the same chain."""
    s = structures
    _check_pdb_fields(s)
    lines = []
    for m, xyz in enumerate(s.coords, start=1):
        lines.append(f"MODEL     {m:4d}")
        for i, (x, y, z) in enumerate(xyz):
            name = s.atom_names[i]
            name = f" {name:<3s}" if len(name) < 4 else name[:4]
            res = s.res_names[i]
            res = f"{res:>3s} " if len(res) < 4 else res  # columns 18-20 (21 blank) or 18-21
            lines.append(
                f"ATOM  {(i + 1) % 100000:5d} {name:4s} {res}"
                f"{chain(s, i)}{int(s.res_ids[i]):4d}{s.icodes[i] or ' '}   "
                f"{x:8.3f}{y:8.3f}{z:8.3f}  1.00  0.00      {s.segids[i]:<4s}{name.strip()[:1]:>2s}"
            )
        lines.append("ENDMDL")
    lines.append("END")
    return "\n".join(lines) + "\n"


def chain(s: Structures, i: int) -> str:
    """Column 22 of atom ``i``: its chain id, blank for an atom named by its segid (columns
    73–76), which reads back as the same chain (:mod:`biovae.data.chains`)."""
    return " " if s.segids[i] else s.chain_ids[i] or NO_CHAIN


def _check_pdb_fields(s: Structures) -> None:
    where = f"{s.source or 'structures'}: cannot write PDB"
    if len(s) > MAX_MODELS:  # columns 11-14 of MODEL: model 10000 would run into the next field
        raise DataError(f"{where}: {len(s)} models, at most 9999 fit; write them to several files")
    if len(s) and not ((s.coords > -999.9995).all() and (s.coords < 9999.9995).all()):
        raise DataError(f"{where}: a coordinate lies outside −999.999 … 9999.999 Å")
    if len(s.res_ids) and not ((s.res_ids >= -999).all() and (s.res_ids <= 9999).all()):
        raise DataError(f"{where}: a residue number lies outside −999 … 9999; renumber them")
    long = [r for r in s.res_names if len(r) > 4]
    if long:
        raise DataError(f"{where}: residue name {long[0]!r} has more than four letters; rename it")
    long = [c for c in s.chain_ids if len(c) > 1]
    if long:
        raise DataError(f"{where}: chain id {long[0]!r} has more than one letter; rename it")
    long = [c for c in s.icodes if len(c) > 1]
    if long:
        raise DataError(f"{where}: insertion code {long[0]!r} has more than one letter; use one")
    long = [c for c in s.segids if len(c) > 4]
    if long:
        raise DataError(f"{where}: segment id {long[0]!r} has more than four letters; rename it")
