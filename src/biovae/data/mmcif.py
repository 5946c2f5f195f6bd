"""Multi-model mmCIF (PDBx) files read with gemmi: every model is a frame.

MDAnalysis reads only the first model of an mmCIF file, so ensembles in mmCIF — the PDB's
format for every entry, and its only one for large ones — are read here. The selection is that
of :data:`~biovae.data.residues.SELECTIONS`: Cα atoms, or the N, CA, C, O backbone, of amino
acid residues (:mod:`biovae.data.residues`); an alternate location keeps its first conformer.
Chains are named by ``auth_asym_id`` (:mod:`biovae.data.chains`) and residues by
``auth_seq_id`` and ``pdbx_PDB_ins_code``, as in the PDB format. Every model must hold the same
atoms of the selected chains (chain, residue number and insertion code, residue and atom name),
in the same order.
"""

from __future__ import annotations

import codecs
from pathlib import Path

import numpy as np

from biovae.data._messages import check_gzip
from biovae.data._text import head_bytes, read_text
from biovae.data.chains import check_chains
from biovae.data.pdb_models import first_difference
from biovae.data.residues import SELECTIONS, amino_acids
from biovae.errors import DataError, require

MMCIF_SUFFIXES = (".cif", ".mmcif", ".cif.gz", ".mmcif.gz")

Atom = tuple[str, int, str, str, str]  # chain, residue number, insertion code, residue, atom


def is_mmcif(path: Path) -> bool:
    return path.name.lower().endswith(MMCIF_SUFFIXES)


def read_mmcif(
    path: Path, select: str, chains: tuple[str, ...] | None = None
) -> tuple[np.ndarray, list[Atom]]:
    """``(frames, atoms, 3)`` coordinates and the atoms of the selection in every model, of the
    chains ``chains`` (``None``: every chain)."""
    gemmi = require("gemmi", "structure")
    try:
        structure = _read(gemmi, path)
    except (RuntimeError, ValueError, OSError, IndexError) as exc:  # IndexError: empty file
        check_gzip(path, "the mmCIF file")  # gemmi reads a damaged .cif.gz as empty or garbled
        raise DataError(f"{path}: not a readable mmCIF file ({exc}); check the file") from None
    frames, atoms = [], None
    for k, model in enumerate(structure):
        these, xyz = _selected(gemmi, model, SELECTIONS[select])
        if atoms is None and these:
            check_chains(path, chains, (a[0] for a in these))
        if chains is not None:
            keep = [a[0] in chains for a in these]
            these, xyz = [a for a, k in zip(these, keep) if k], xyz[keep]
        if atoms is None:
            atoms = these
        elif these != atoms:
            found = first_difference(these, atoms, _name)
            raise DataError(
                f"{path}: model {k + 1} holds other atoms than model 1 ({found}); every model "
                "must hold the same atoms"
            )
        frames.append(xyz)
    if not atoms:
        raise DataError(
            f"{path}: no amino-acid atoms named {'/'.join(SELECTIONS[select])} in the first model; "
            "check that the file holds a protein"
        )
    return np.stack(frames).astype(np.float32), atoms


def _read(gemmi, path: Path):
    """gemmi's structure of the file, a UTF-8 byte-order mark (which gemmi reads as the start
    of the block header) dropped; UTF-16 is refused before (:func:`read_structures`)."""
    if not head_bytes(path, 3).startswith(codecs.BOM_UTF8):
        return gemmi.read_structure(str(path))
    block = gemmi.cif.read_string(read_text(path, "the mmCIF file")).sole_block()
    return gemmi.make_structure_from_block(block)


def _selected(gemmi, model, names: tuple[str, ...]) -> tuple[list[Atom], np.ndarray]:
    atoms, xyz = [], []
    amino = amino_acids(residue.name for chain in model for residue in chain)
    for chain in model:
        # a point mutation in the crystal (microheterogeneity: THR and SER at one residue number,
        # altlocs A and B) is two residues to gemmi; keep the first, as the PDB reader does
        for residue in chain.first_conformer():
            if residue.name not in amino:
                continue
            for name in names:
                atom = residue.find_atom(name, "*")  # first alternate location
                if atom is not None:
                    icode = residue.seqid.icode.strip()
                    atoms.append((chain.name, residue.seqid.num, icode, residue.name, name))
                    xyz.append((atom.pos.x, atom.pos.y, atom.pos.z))
    return atoms, np.asarray(xyz, dtype=np.float64).reshape(-1, 3)


def _name(atom: Atom) -> str:
    chain, number, icode, residue, name = atom
    return f"{name} of {residue} {number}{icode}, chain {chain}"
