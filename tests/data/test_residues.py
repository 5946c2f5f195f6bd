"""One amino-acid rule for PDB (MDAnalysis), mmCIF (gemmi) and simulation topologies."""

from __future__ import annotations

import numpy as np
import pytest

from biovae.data.residues import FORCE_FIELD, amino_acids, parent_letter, sequence
from biovae.data.structure import read_structures

gemmi = pytest.importorskip("gemmi", reason="needs the structure extra (gemmi)")
pytest.importorskip("MDAnalysis", reason="needs the structure extra (MDAnalysis)")

# residue name, record type: a crystal structure's modified residues (HETATM), force-field
# names, then a calcium ion whose atom is named CA, and a water
RESIDUES = [("ALA", "ATOM"), ("MSE", "HETATM"), ("SEP", "HETATM"), ("HSD", "ATOM"),
            ("CYX", "ATOM"), ("GLY", "ATOM")]  # fmt: skip


def _line(record: str, serial: int, atom: str, res: str, num: int, xyz) -> str:
    x, y, z = xyz
    return (
        f"{record:<6}{serial:>5} {atom:<4} {res:>3} A{num:>4}    {x:8.3f}{y:8.3f}{z:8.3f}"
        f"  1.00  0.00          {atom[0]:>2}"
    )


def _peptide_pdb(path) -> None:
    lines, serial = [], 1
    for k, (res, record) in enumerate(RESIDUES):
        for j, atom in enumerate(("N", "CA", "C", "O")):
            xyz = (3.8 * k + 1.2 * j, 0.5 * (j % 2), 0.0)
            lines.append(_line(record, serial, atom, res, k + 1, xyz))
            serial += 1
    lines.append(_line("HETATM", serial, "CA", "CA", 101, (30.0, 0.0, 0.0)))
    lines.append(_line("HETATM", serial + 1, "O", "HOH", 102, (33.0, 0.0, 0.0)))
    path.write_text("\n".join(lines) + "\nEND\n")


def test_parent_letters_of_standard_modified_and_force_field_names():
    assert [parent_letter(n, gemmi) for n in ("ALA", "MSE", "SEP", "HSD", "HIE", "CYX")] == list(
        "AMSHHC"
    )
    assert parent_letter("NALA", gemmi) == "A" and parent_letter("CLYS", gemmi) == "K"  # AMBER
    for not_amino in ("HOH", "CA", "ZN", "ACE", "NME"):  # water, ions, capping groups
        assert parent_letter(not_amino, gemmi) is None
    assert parent_letter("MSE") is None  # outside our tables, gemmi answers
    assert amino_acids(["ALA", "HSD", "HOH", "CA", "SEP"]) == {"ALA", "HSD", "SEP"}
    assert sequence(["MET", "HSD", "MSE", "HOH"]) == "MHM?"
    assert all(parent_letter(name, gemmi) is not None for name in FORCE_FIELD)


@pytest.mark.parametrize("select, per_residue", [("ca", 1), ("backbone", 4)])
def test_pdb_and_mmcif_select_the_same_atoms(tmp_path, select, per_residue):
    pdb = tmp_path / "peptide.pdb"
    _peptide_pdb(pdb)
    cif = tmp_path / "peptide.cif"
    gemmi.read_structure(str(pdb)).make_mmcif_document().write_file(str(cif))
    from_pdb, from_cif = read_structures(pdb, select=select), read_structures(cif, select=select)
    names = tuple(res for res, _ in RESIDUES for _ in range(per_residue))
    assert from_pdb.res_names == names and from_cif.res_names == names
    assert from_pdb.atom_names == from_cif.atom_names
    np.testing.assert_allclose(from_pdb.coords, from_cif.coords, atol=1e-3)
    numbers = [k + 1 for k in range(len(RESIDUES)) for _ in range(per_residue)]
    assert list(from_pdb.res_ids) == numbers
