"""Which residues are amino acids, and which amino acid each is: one rule for every reader.

A structure reaches biovae as a PDB file (read by MDAnalysis), an mmCIF file (read by gemmi) or
a trajectory with a topology from a simulation package. Their residue names differ: the PDB's
Chemical Component Dictionary names modified residues (MSE selenomethionine, SEP/TPO/PTR
phosphorylated residues, ...), simulation force fields name protonation states and termini
(CHARMM's HSD/HSE/HSP, AMBER's HID/HIE/HIP/CYX/ASH/GLH/LYN and N-/C-terminal NALA/CALA, GROMOS's
HISA/HISB/HISH, ...). A residue is an amino acid when gemmi's table of components calls it one
or it is one of the force-field names below; its *parent* is the standard amino acid it stands
for (HSD → H, MSE → M), so that the same protein from a crystal structure and from a
simulation compares equal. Capping groups (ACE, NME, NH2) have no Cα and are not amino acids.
"""

from __future__ import annotations

from collections.abc import Iterable

from biovae.errors import require

#: Atom selections by name: the atoms each amino-acid residue contributes.
SELECTIONS = {"ca": ("CA",), "backbone": ("N", "CA", "C", "O")}

#: The 20 standard amino acids (and UNK) and their one-letter codes.
STANDARD = {
    "ALA": "A", "ARG": "R", "ASN": "N", "ASP": "D", "CYS": "C", "GLN": "Q", "GLU": "E",
    "GLY": "G", "HIS": "H", "ILE": "I", "LEU": "L", "LYS": "K", "MET": "M", "PHE": "F",
    "PRO": "P", "SER": "S", "THR": "T", "TRP": "W", "TYR": "Y", "VAL": "V", "UNK": "X",
}  # fmt: skip

#: Force-field names of protonation states and disulfide/deprotonated forms → standard name.
_VARIANTS = {
    "HSD": "HIS", "HSE": "HIS", "HSP": "HIS", "HID": "HIS", "HIE": "HIS", "HIP": "HIS",
    "HISA": "HIS", "HISB": "HIS", "HISD": "HIS", "HISE": "HIS", "HISH": "HIS", "HIS1": "HIS",
    "HIS2": "HIS", "CYX": "CYS", "CYM": "CYS", "CYS1": "CYS", "CYS2": "CYS", "CYSH": "CYS",
    "ASH": "ASP", "ASPH": "ASP", "GLH": "GLU", "GLUH": "GLU", "LYN": "LYS", "LYSH": "LYS",
    "ARGN": "ARG", "ALAD": "ALA", "ASN1": "ASN", "QLN": "GLN", "PGLU": "GLU", "HYP": "PRO",
    "ORN": "LYS",
}  # fmt: skip


def _force_field() -> dict[str, str]:
    """Every force-field name → its standard name, N-/C-terminal spellings (AMBER) included."""
    names = {**{k: k for k in STANDARD if k != "UNK"}, **_VARIANTS}
    ends = {f"{end}{name}": parent for name, parent in names.items() for end in "NC"}
    return {**ends, **_VARIANTS}


FORCE_FIELD = _force_field()


def parent_letter(name: str, gemmi=None) -> str | None:
    """The one-letter code of the standard amino acid ``name`` stands for (``HSD`` → ``H``,
    ``MSE`` → ``M``, ``UNK`` → ``X``); ``None`` when ``name`` is not an amino acid. ``gemmi``
    (the module) answers for names outside the standard and force-field tables."""
    key = name.strip().upper()
    standard = FORCE_FIELD.get(key, key)
    if standard in STANDARD:
        return STANDARD[standard]
    if gemmi is None:
        return None
    info = gemmi.find_tabulated_residue(key)
    if info is None or not info.is_amino_acid():
        return None
    letter = info.one_letter_code.strip().upper()
    return letter if letter.isalpha() else "X"


def amino_acids(names: Iterable[str]) -> frozenset[str]:
    """Those of ``names`` that are amino acids (each distinct name looked up once)."""
    gemmi = require("gemmi", "structure")
    return frozenset(n for n in set(names) if parent_letter(n, gemmi) is not None)


def sequence(names: Iterable[str]) -> str:
    """One-letter parents of ``names`` (``?`` where none is known: gemmi absent or not an
    amino acid), for comparing the residues of two selections."""
    try:
        gemmi = require("gemmi", "structure")
    except ImportError:  # a Python user's own arrays: the standard tables still answer
        gemmi = None
    return "".join(parent_letter(n, gemmi) or "?" for n in names)
