"""Chain selection and insertion codes of the structure readers (PDB, mmCIF) and writer."""

from __future__ import annotations

import numpy as np
import pytest

from biovae.data.structure import Structures, atoms_from_features, pdb_text, read_structures
from biovae.errors import DataError

pytest.importorskip("MDAnalysis", reason="needs the structure extra (MDAnalysis)")

#: chain, residue number, insertion code, residue name of each Cα: 52 and 52A are two residues
RESIDUES = [
    ("A", 51, "", "GLY"),
    ("A", 52, "", "GLY"),
    ("A", 52, "A", "ALA"),
    ("A", 53, "", "SER"),
    ("B", 1, "", "LYS"),
    ("B", 2, "", "LEU"),
    ("B", 3, "", "VAL"),
]


def atom_record(k: int, res: tuple, x: float, chain: str | None = None, segid: str = "") -> str:
    c, number, icode, name = res
    c = c if chain is None else chain
    return (
        f"ATOM  {k:5d}  CA  {name} {c:1s}{number:4d}{icode:1s}   {x:8.3f}{0.0:8.3f}{0.0:8.3f}"
        f"  1.00  0.00      {segid:<4s} C"
    )


def pdb_file(path, models=2, chain=None, segids=("", ""), edit=None):
    """A hand-made multi-model Cα PDB of :data:`RESIDUES` (``chain`` replaces every chain id,
    ``segids`` are those of chains A and B; ``edit(model, records)`` changes a model)."""
    lines = []
    for m in range(1, models + 1):
        records = [
            atom_record(k, r, 3.8 * k + 0.1 * m, chain, segids[r[0] == "B"])
            for k, r in enumerate(RESIDUES, start=1)
        ]
        lines += [f"MODEL     {m:4d}", *(edit(m, records) if edit else records), "ENDMDL"]
    path.write_text("\n".join([*lines, "END"]) + "\n")
    return path


MMCIF = """data_two
loop_
_atom_site.group_PDB
_atom_site.id
_atom_site.type_symbol
_atom_site.label_atom_id
_atom_site.label_alt_id
_atom_site.label_comp_id
_atom_site.label_asym_id
_atom_site.label_entity_id
_atom_site.label_seq_id
_atom_site.pdbx_PDB_ins_code
_atom_site.Cartn_x
_atom_site.Cartn_y
_atom_site.Cartn_z
_atom_site.occupancy
_atom_site.B_iso_or_equiv
_atom_site.auth_seq_id
_atom_site.auth_asym_id
_atom_site.pdbx_PDB_model_num
ATOM 1 C CA . GLY C 1 1 ? 0.0 0 0 1 0 51 A 1
ATOM 2 C CA . GLY C 1 2 ? 3.8 0 0 1 0 52 A 1
ATOM 3 C CA . ALA C 1 3 A 7.6 0 0 1 0 52 A 1
ATOM 4 C CA . SER C 1 4 ? 11.4 0 0 1 0 53 A 1
ATOM 5 C CA . LYS D 2 1 ? 15.2 0 0 1 0 1 B 1
ATOM 6 C CA . GLY C 1 1 ? 0.5 0 0 1 0 51 A 2
ATOM 7 C CA . GLY C 1 2 ? 4.3 0 0 1 0 52 A 2
ATOM 8 C CA . ALA C 1 3 A 8.1 0 0 1 0 52 A 2
ATOM 9 C CA . SER C 1 4 ? 11.9 0 0 1 0 53 A 2
ATOM 10 C CA . LEU D 2 1 ? 15.7 0 0 1 0 1 B 2
"""


def test_chains_keep_the_atoms_of_the_chains_named(tmp_path):
    pdb = pdb_file(tmp_path / "two.pdb")
    every = read_structures(pdb)
    assert every.chain_ids == ("A",) * 4 + ("B",) * 3 and every.selected_chains is None
    b = read_structures(pdb, chains=("B",))
    assert b.coords.shape == (2, 3, 3) and b.res_names == ("LYS", "LEU", "VAL")
    assert b.selected_chains == ("B",)
    np.testing.assert_array_equal(b.coords, every.coords[:, 4:])
    both = read_structures(pdb, chains=("B", "A"))  # in file order, whatever the order given
    assert both.features() == every.features() and both.selected_chains == ("B", "A")
    assert read_structures(pdb, chains="A").n_atoms == 4  # a string is one chain id


def test_a_chain_the_file_lacks_is_a_one_line_error_naming_its_chains(tmp_path):
    pdb = pdb_file(tmp_path / "two.pdb")
    with pytest.raises(
        DataError, match=r"two.pdb: no chain 'a' among .*\(A, B\); .*case-sensitive"
    ):
        read_structures(pdb, chains=("a",))
    with pytest.raises(DataError, match=r"no chain 'C' among its protein chains \(A, B\)"):
        read_structures(pdb, chains=("A", "C"))
    with pytest.raises(DataError, match="not a list of chain ids"):
        read_structures(pdb, chains=())


def test_files_without_chain_ids_are_selected_by_segid(tmp_path):
    """MDAnalysis gives an empty chainID for a blank column 22 (CHARMM PDBs; PSF topologies
    have none): such atoms are selected, and named in feature names, by segid."""
    seg = pdb_file(tmp_path / "seg.pdb", chain=" ", segids=("PROA", "PROB"))
    b = read_structures(seg, chains="PROB")
    assert b.res_names == ("LYS", "LEU", "VAL") and b.chain_ids == ("PROB",) * 3
    assert b.features()[::3] == ("PROB:LYS:1:CA:x", "PROB:LEU:2:CA:x", "PROB:VAL:3:CA:x")
    with pytest.raises(DataError, match=r"no chain 'B' among its protein chains \(PROA, PROB\)"):
        read_structures(seg, chains="B")
    blank = pdb_file(tmp_path / "blank.pdb", chain=" ")  # neither: chain A, as written out
    assert read_structures(blank, chains="A").n_atoms == 7


def test_a_model_whose_other_chain_differs_is_read_for_a_chain_it_keeps(tmp_path):
    def mutate_b(model, records):  # model 2 has GLY for LEU 2 of chain B: same atom count
        return [r.replace("LEU B", "GLY B") if model == 2 else r for r in records]

    pdb = pdb_file(tmp_path / "mutant.pdb", edit=mutate_b)
    with pytest.raises(DataError, match=r"model 2 .*atom 6 is CA of GLY 2, chain B"):
        read_structures(pdb)
    with pytest.raises(DataError, match=r"model 2 .*atom 2 is CA of GLY 2, chain B"):
        read_structures(pdb, chains="B")
    assert read_structures(pdb, chains="A").coords.shape == (2, 4, 3)

    def b_first(model, records):  # chain B before A; model 2 lacks LYS 1 of B, adds a water
        b, a = records[4:], records[:4]
        water = "HETATM    8  O   HOH W   1       0.000   0.000   0.000  1.00  0.00           O"
        return [*b, *a] if model == 1 else [*b[1:], *a, water]

    shifted = pdb_file(tmp_path / "shifted.pdb", edit=b_first)
    # MDAnalysis reads by position: chain A's atoms are one place earlier in model 2
    with pytest.raises(DataError, match=r"model 2 .*CA of GLY 51, chain A is its atom 3 but"):
        read_structures(shifted, chains="A")


def test_mmcif_chains_are_auth_asym_ids_and_insertion_codes_are_kept(tmp_path):
    pytest.importorskip("gemmi", reason="needs the structure extra (gemmi)")
    cif = tmp_path / "two.cif"
    cif.write_text(MMCIF)
    a = read_structures(cif, chains=("A",))  # auth_asym_id A (label_asym_id C)
    assert a.coords.shape == (2, 4, 3) and a.selected_chains == ("A",)
    assert a.features()[::3] == (
        "A:GLY:51:CA:x",
        "A:GLY:52:CA:x",
        "A:ALA:52A:CA:x",
        "A:SER:53:CA:x",
    )
    with pytest.raises(DataError, match=r"two.cif: no chain 'C' among its protein chains \(A, B\)"):
        read_structures(cif, chains="C")
    # model 2 holds LEU where model 1 has LYS in chain B: refused unless chain B is left out
    with pytest.raises(DataError, match=r"model 2 holds other atoms .*LEU 1, chain B"):
        read_structures(cif)
    pdb = pdb_file(tmp_path / "two.pdb")
    assert read_structures(pdb, chains="A").features() == a.features()


def test_insertion_codes_are_kept_in_features_and_written_pdb(tmp_path):
    s = read_structures(pdb_file(tmp_path / "ic.pdb"))
    assert s.icodes == ("", "", "A", "", "", "", "")
    features = s.features()
    assert len(set(features)) == len(features)  # 52 and 52A were both "52", renamed 52…-1
    assert "A:GLY:52:CA:x" in features and "A:ALA:52A:CA:x" in features
    rows = [line for line in pdb_text(s).splitlines() if line.startswith("ATOM")]
    assert [r[22:27] for r in rows[:4]] == ["  51 ", "  52 ", "  52A", "  53 "]
    back = read_structures(pdb_text_file(tmp_path / "back.pdb", s))
    assert back.features() == features and back.icodes == s.icodes
    atoms = atoms_from_features(features, "model", ("A", "B"))
    assert atoms.icodes == s.icodes and atoms.selected_chains == ("A", "B")
    np.testing.assert_array_equal(atoms.res_ids, s.res_ids)
    old = atoms_from_features(("A:GLY:-3:CA:x", "A:GLY:-3:CA:y", "A:GLY:-3:CA:z"))
    assert old.res_ids.tolist() == [-3] and old.icodes == ("",) and old.selected_chains is None
    with pytest.raises(DataError, match="is not a structure model"):
        atoms_from_features(("A:GLY:52AB:CA:x", "A:GLY:52AB:CA:y", "A:GLY:52AB:CA:z"))


def test_pdb_text_refuses_an_insertion_code_of_two_letters():
    coords = np.zeros((1, 1, 3), np.float32)
    s = Structures(coords, ("CA",), ("GLY",), [52], ("A",), "x", ("AB",))
    with pytest.raises(DataError, match="insertion code 'AB' has more than one letter"):
        pdb_text(s)
    with pytest.raises(DataError, match="2 insertion codes for 1 atoms"):
        Structures(coords, ("CA",), ("GLY",), [52], ("A",), "x", ("A", "B"))


def pdb_text_file(path, structures):
    path.write_text(pdb_text(structures))
    return path


def test_chains_named_by_segid_read_back_from_written_pdb(tmp_path):
    """Atoms without a chain id are selected by segid: a written PDB keeps the segid (columns
    73–76, column 22 blank), so the chain selected for fitting selects its samples too."""
    seg = read_structures(pdb_file(tmp_path / "seg.pdb", chain=" ", segids=("PROA", "PROB")))
    assert seg.chain_ids == seg.segids == ("PROA",) * 4 + ("PROB",) * 3
    rows = [r for r in pdb_text(seg).splitlines() if r.startswith("ATOM")]
    assert rows[4][21] == " " and rows[4][72:76] == "PROB"
    back = read_structures(pdb_text_file(tmp_path / "back.pdb", seg), chains="PROB")
    assert back.res_names == ("LYS", "LEU", "VAL") and back.segids == ("PROB",) * 3
    chained = read_structures(pdb_file(tmp_path / "ab.pdb", segids=("PROA", "PROB")))
    assert chained.segids == ("",) * 7  # a chain id names the chain: written as before
    rows = [r for r in pdb_text(chained).splitlines() if r.startswith("ATOM")]
    assert rows[4][21] == "B" and rows[4][72:76] == "    "
    coords = np.zeros((1, 1, 3), np.float32)
    long = Structures(coords, ("CA",), ("GLY",), [1], ("A",), "x", segids=("PROTA",))
    with pytest.raises(DataError, match="segment id 'PROTA' has more than four letters"):
        pdb_text(long)


def test_segments_of_one_protein_are_told_apart_by_their_segids(tmp_path):
    """Two copies of a peptide as segments PROA and PROB without chain ids (a CHARMM dimer):
    both were chain 'A', so their feature names repeated and nothing but the distance
    (here a bond's 3.8 Å) marked where one molecule ends and the other begins."""
    from biovae.applications.structures.validity import ca_breaks

    rows = [
        atom_record(k, ("", r, "", name), 3.8 * k, " ", segid)
        for k, (segid, r, name) in enumerate(
            [(g, r, n) for g in ("PROA", "PROB") for r, n in ((1, "GLY"), (2, "ALA"), (3, "SER"))],
            start=1,
        )
    ]
    path = tmp_path / "dimer.pdb"
    path.write_text("\n".join(["MODEL        1", *rows, "ENDMDL", "END"]) + "\n")
    s = read_structures(path)
    assert s.chain_ids == s.segids == ("PROA",) * 3 + ("PROB",) * 3
    assert s.features()[::3] == tuple(
        f"{g}:{n}:{r}:CA:x"
        for g in ("PROA", "PROB")
        for r, n in ((1, "GLY"), (2, "ALA"), (3, "SER"))
    )
    assert ca_breaks(s) == (2,)  # no bond from SER 3 of PROA to GLY 1 of PROB
