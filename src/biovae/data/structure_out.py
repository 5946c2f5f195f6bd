"""Structure output files: multi-model PDB, or mmCIF for a ``.cif``/``.mmcif`` name (what PDB's
fixed columns cannot hold, such as chain ids of several letters, mmCIF can)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from biovae.data.mmcif import is_mmcif
from biovae.data.mmcif_write import write_mmcif
from biovae.data.pdb_write import check_model_count, check_pdb_fields, write_pdb
from biovae.errors import require

if TYPE_CHECKING:
    from biovae.data.structure import Structures

#: File names a structure can be written to (each also ``.gz``-compressed).
OUT_SUFFIXES = (".pdb", ".cif", ".mmcif")


def write_structures(path: str | Path, structures: Structures) -> Path:
    """Write every frame of ``structures`` as one model: mmCIF for a ``.cif``/``.mmcif`` name
    (optionally ``.gz``), PDB otherwise."""
    writer = write_mmcif if is_mmcif(Path(path)) else write_pdb
    return writer(path, structures)


def check_writable(path: str | Path, atoms: Structures, n_models: int, what: str) -> None:
    """A one-line error, before any frame is decoded, unless ``n_models`` frames of ``atoms``
    (e.g. a model's, without frames) can be written to ``path``: a PDB file must hold their
    names and number (more than 9999 models, or chain ids of several letters, are told to
    write mmCIF); mmCIF needs gemmi. ``what`` names the option that sets ``n_models``."""
    if is_mmcif(Path(path)):
        require("gemmi", "structure")
        return
    check_model_count(n_models, what)
    check_pdb_fields(atoms.with_coords(atoms.coords[:0]))
