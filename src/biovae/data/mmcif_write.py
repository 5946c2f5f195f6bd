"""Multi-model mmCIF (PDBx) text of structure ensembles, written with gemmi (the
``structure`` extra): every frame is one model (``pdbx_PDB_model_num``).

mmCIF holds what the fixed-width PDB format cannot: chain ids of several letters (large
entries' ``auth_asym_id``), more than 9999 models, any residue number or coordinate. Each chain
is named as :mod:`biovae.data.chains` names it (``auth_asym_id``: the chain id, or the segid of
an atom without one), residues by ``auth_seq_id`` and ``pdbx_PDB_ins_code``, so the file reads
back (:func:`~biovae.data.structure.read_structures`) with the same chains, residues and atoms.
Every residue is a polymer residue (only amino-acid atoms are read), so its ``label_seq_id`` is
its place in its chain, counted from 1 in file order (52 and 52A are two places), as PDBx asks;
``label_asym_id`` is the chain's name. Residue names are written as read: force-field names
(HSD, HIE, CYX, NALA) are kept, as in written PDB files, so a simulation's frames round-trip;
readers that look names up in the Chemical Component Dictionary see them as unknown components.

Every chain is a polymer of one entity, numbered 1, 2, … in file order, one for each distinct
sequence of residue names (two copies of a protein are one entity with two chains): ``_entity``,
``_struct_asym`` and ``_atom_site.label_entity_id`` name it, ``_entity_poly_seq`` lists its
residues and ``_entity_poly`` gives its one-letter sequence, so readers that want the polymer
sequence (gemmi's entities, biotite's ``get_sequence``) find it. In
``pdbx_seq_one_letter_code`` a name outside the 20 standard amino acids is its id in
parentheses, as PDBx asks (``(MSE)``, ``(HSD)``); ``pdbx_seq_one_letter_code_can`` gives its
parent amino acid instead (``M``, ``H``; ``X`` where none is known).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from biovae.data.chains import NO_CHAIN
from biovae.data.residues import STANDARD, parent_letter
from biovae.data.writers import atomic_open
from biovae.errors import require

if TYPE_CHECKING:
    from biovae.data.structure import Structures


def write_mmcif(path: str | Path, structures: Structures) -> Path:
    """Write every frame as one model of an mmCIF file (atomically)."""
    text = mmcif_text(structures)
    with atomic_open(path, "w") as fh:  # compressed for a .gz name, like every output
        fh.write(text)
    return Path(path)


def mmcif_text(structures: Structures) -> str:
    """Multi-model mmCIF text of ``structures`` (the ``_atom_site`` loop with its entities;
    no unit cell or symmetry, which a model's coordinates do not have)."""
    gemmi = require("gemmi", "structure")
    s = structures
    st = gemmi.Structure()
    # the data block's name: one word of the source's name (a space would end it)
    st.name = re.sub(r"[^A-Za-z0-9_-]", "_", Path(s.source).name.partition(".")[0]) or "biovae"
    for m, xyz in enumerate(s.coords, start=1):
        st.add_model(_model(gemmi, s, m, xyz))
    entities = _entities(gemmi, st[0]) if len(st) else []
    for entity in entities:
        st.entities.append(entity)
    groups = gemmi.MmcifOutputGroups(True)
    groups.cell = groups.symmetry = False
    doc = st.make_mmcif_document(groups)
    if entities:  # gemmi < 0.7 writes no _entity_poly, later ones one without the sequence
        doc.sole_block().set_mmcif_category("_entity_poly.", _entity_poly(gemmi, entities))
    return doc.as_string()


def _entities(gemmi, model) -> list:
    """One polymer entity ("1", "2", … in file order) per distinct sequence of residue names of
    the chains of ``model`` (every model holds the same residues), with those chains."""
    sequences: dict[str, list[str]] = {}  # chain name (label_asym_id) -> residue names
    for chain in model:  # a chain split in two parts of the file is one chain, as in _model
        sequences.setdefault(chain.name, []).extend(residue.name for residue in chain)
    entities: dict[tuple[str, ...], object] = {}
    for name, sequence in sequences.items():
        entity = entities.get(tuple(sequence))
        if entity is None:
            entity = entities[tuple(sequence)] = gemmi.Entity(str(len(entities) + 1))
            entity.entity_type = gemmi.EntityType.Polymer
            entity.polymer_type = gemmi.PolymerType.PeptideL
            entity.full_sequence = sequence  # written as _entity_poly_seq
        entity.subchains = [*entity.subchains, name]
    return list(entities.values())


def _entity_poly(gemmi, entities) -> dict[str, list]:
    """The ``_entity_poly`` columns of ``entities``: type, whether a nonstandard name occurs,
    the one-letter sequence (nonstandard names in parentheses), its canonical form (parents)
    and the chains (``pdbx_strand_id``)."""
    rows = []
    for entity in entities:
        names = list(entity.full_sequence)
        code = "".join(STANDARD[n] if _standard(n) else f"({n})" for n in names)
        can = "".join(parent_letter(n, gemmi) or "X" for n in names)
        nstd = "no" if all(map(_standard, names)) else "yes"
        chains = ",".join(entity.subchains)
        rows.append((entity.name, "polypeptide(L)", nstd, _lines(code), _lines(can), chains))
    return {column: list(values) for column, values in zip(_POLY_COLUMNS, zip(*rows))}


_POLY_COLUMNS = (
    "entity_id", "type", "nstd_monomer", "pdbx_seq_one_letter_code",
    "pdbx_seq_one_letter_code_can", "pdbx_strand_id",
)  # fmt: skip


def _standard(name: str) -> bool:
    """One of the 20 amino acids a one-letter code names (UNK is written ``(UNK)``)."""
    return name in STANDARD and name != "UNK"


def _lines(sequence: str, width: int = 80) -> str:
    """``sequence`` in lines of ``width`` letters, as the PDB writes it (a long one in a text
    field; readers drop the line breaks); a parenthesised name is not split."""
    lines, line = [], ""
    for token in re.findall(r"\([^)]*\)|.", sequence):
        if line and len(line) + len(token) > width:
            lines.append(line)
            line = ""
        line += token
    return "\n".join([*lines, line])


def _model(gemmi, s: Structures, number: int, xyz):
    """Model ``number``: atoms ``xyz`` grouped into residues and chains in file order."""
    try:
        model = gemmi.Model(number)
    except TypeError:  # gemmi < 0.7 names a model by a string
        model = gemmi.Model(str(number))
    chain = residue = None
    places: dict[str, int] = {}  # residues of each chain so far: label_seq_id
    # to 0.001 Å as in PDB files, rather than float32 noise in the last digits
    for i, (x, y, z) in enumerate(np.round(xyz.astype(np.float64), 3).tolist()):
        name = s.chain_ids[i] or NO_CHAIN  # as --chain names it (a segid, for atoms without id)
        if chain is None or chain.name != name:
            chain, residue = model.add_chain(gemmi.Chain(name)), None
        key = (name, int(s.res_ids[i]), s.icodes[i], s.res_names[i])
        if residue is None or _key(chain, residue) != key:
            places[name] = places.get(name, 0) + 1
            residue = chain.add_residue(_residue(gemmi, *key, places[name]))
        atom = gemmi.Atom()
        atom.name, atom.element = s.atom_names[i], gemmi.Element(s.atom_names[i][:1])
        atom.pos, atom.occ, atom.b_iso = gemmi.Position(x, y, z), 1.0, 0.0
        residue.add_atom(atom)
    return model


def _key(chain, residue) -> tuple[str, int, str, str]:
    return chain.name, residue.seqid.num, residue.seqid.icode.strip(), residue.name


def _residue(gemmi, chain: str, number: int, icode: str, name: str, place: int):
    """A polymer residue, the ``place``-th of its chain (``label_seq_id``), written as ATOM
    records as in PDB files (gemmi would write HETATM for a name outside its table, e.g. HSD);
    its ``label_asym_id`` is its chain's name (gemmi would add a suffix)."""
    residue = gemmi.Residue()
    residue.name, residue.seqid, residue.label_seq = name, gemmi.SeqId(number, icode or " "), place
    residue.entity_type, residue.subchain, residue.het_flag = gemmi.EntityType.Polymer, chain, "A"
    return residue
