"""Written mmCIF names its polymers: ``_entity``, ``_entity_poly`` (the one-letter sequence, PDBx
style: a nonstandard name in parentheses, its parent in the canonical code) and
``_entity_poly_seq``, one entity per distinct chain sequence, read back by an independent CIF
parser (gemmi's, and biotite's where it is installed) and by biovae."""

from __future__ import annotations

import numpy as np
import pytest

from biovae.data.structure import Structures, read_structures, write_structures

gemmi = pytest.importorskip("gemmi", reason="needs the structure extra (gemmi)")

#: chains A and B hold the same residues (one entity), C another; MSE is selenomethionine,
#: HSD CHARMM's histidine, 52A an inserted residue
ATOMS = [("A", 51, "", "GLY"), ("A", 52, "A", "MSE"), ("A", 53, "", "HSD")]
ATOMS += [("B", 1, "", "GLY"), ("B", 2, "", "MSE"), ("B", 3, "", "HSD"), ("C", 7, "", "LYS")]


def structures(atoms=ATOMS, models=2, source="three.pdb") -> Structures:
    """Cα atoms ``atoms``, ``models`` frames 3.8 Å steps apart along x."""
    x = 3.8 * np.arange(len(atoms), dtype=np.float32)
    coords = np.stack([np.stack([x + m, -x, x / 2], axis=1) for m in range(models)])
    chains, numbers, icodes, names = zip(*atoms)
    n = len(atoms)
    return Structures(coords, ("CA",) * n, names, np.array(numbers), chains, source, icodes)


def table(block, category: str, *columns: str) -> list[tuple[str, ...]]:
    """Rows of ``columns`` of a category, values unquoted, text fields joined."""
    rows = block.find(category, list(columns))
    return [tuple(gemmi.cif.as_string(v).replace("\n", "") for v in row) for row in rows]


def test_one_entity_per_distinct_chain_sequence_with_its_pdbx_one_letter_code(tmp_path):
    path = write_structures(tmp_path / "three.cif", structures())
    block = gemmi.cif.read(str(path)).sole_block()
    assert table(block, "_entity.", "id", "type") == [("1", "polymer"), ("2", "polymer")]
    assert table(block, "_struct_asym.", "id", "entity_id") == [("A", "1"), ("B", "1"), ("C", "2")]
    poly = table(
        block, "_entity_poly.", "entity_id", "type", "pdbx_strand_id", "nstd_monomer",
        "pdbx_seq_one_letter_code", "pdbx_seq_one_letter_code_can",
    )  # fmt: skip
    assert poly == [
        ("1", "polypeptide(L)", "A,B", "yes", "G(MSE)(HSD)", "GMH"),
        ("2", "polypeptide(L)", "C", "no", "K", "K"),
    ]
    seq = table(block, "_entity_poly_seq.", "entity_id", "num", "mon_id")
    assert seq == [("1", "1", "GLY"), ("1", "2", "MSE"), ("1", "3", "HSD"), ("2", "1", "LYS")]
    sites = table(block, "_atom_site.", "group_PDB", "label_asym_id", "label_entity_id")
    assert sites == [("ATOM", c, "2" if c == "C" else "1") for c, *_ in ATOMS] * 2
    st = gemmi.read_structure(str(path))
    assert [(e.name, list(e.subchains), list(e.full_sequence)) for e in st.entities] == [
        ("1", ["A", "B"], ["GLY", "MSE", "HSD"]),
        ("2", ["C"], ["LYS"]),
    ]
    back = read_structures(path)  # our reader reads it as before
    assert back.features() == structures().features() and back.icodes == structures().icodes
    np.testing.assert_allclose(back.coords, structures().coords, atol=5e-4)


def test_a_long_sequence_is_written_in_lines_that_read_back_whole(tmp_path):
    atoms = [("A", i + 1, "", ("MSE", "ALA", "UNK")[i % 3]) for i in range(120)]
    path = write_structures(tmp_path / "long.cif.gz", structures(atoms, models=1))
    block = gemmi.cif.read(str(path)).sole_block()
    (row,) = block.find("_entity_poly.", ["pdbx_seq_one_letter_code"])
    code = gemmi.cif.as_string(row[0])  # a text field: its line breaks kept
    assert max(map(len, code.splitlines())) <= 80
    assert code.replace("\n", "") == "(MSE)A(UNK)" * 40
    (can,) = table(block, "_entity_poly.", "pdbx_seq_one_letter_code_can")[0]
    assert can == "MAX" * 40


def test_a_real_protein_reads_back_with_its_sequence(fixtures_dir, tmp_path):
    """Human ubiquitin (PDB 2K39): its UniProt P0CG48 sequence, one entity of chain A."""
    pytest.importorskip("MDAnalysis", reason="reading the PDB fixture needs MDAnalysis")
    ubq = read_structures(fixtures_dir / "ubiquitin_2k39_ca_12.pdb")
    path = write_structures(tmp_path / "ubq.cif", ubq)
    st = gemmi.read_structure(str(path))
    (entity,) = st.entities
    assert gemmi.one_letter_code(list(entity.full_sequence)) == (
        "MQIFVKTLTGKTITLEVEPSDTIENVKAKIQDKEGIPPDQQRLIFAGKQLEDGRTLSDYNIQKESTLHLVLRLRGG"
    )
    assert (len(st), list(entity.subchains)) == (12, ["A"])
    assert read_structures(path).features() == ubq.features()


def test_biotite_reads_the_polymer_sequences(tmp_path):
    pdbx = pytest.importorskip(
        "biotite.structure.io.pdbx", reason="biotite is not installed (not a biovae dependency)"
    )
    if not hasattr(pdbx, "CIFFile"):
        pytest.skip("biotite < 0.40 has no CIFFile")
    path = write_structures(tmp_path / "three.cif", structures())
    got = pdbx.get_sequence(pdbx.CIFFile.read(str(path)))
    if isinstance(got, dict):  # biotite >= 1.0: by chain (pdbx_strand_id)
        assert {k: str(v) for k, v in got.items()} == {"A": "GMH", "B": "GMH", "C": "K"}
    else:  # by entity
        assert [str(v) for v in got] == ["GMH", "K"]
    atoms = pdbx.get_structure(pdbx.CIFFile.read(str(path)), model=1)
    assert list(atoms.chain_id) == [c for c, *_ in ATOMS]
    assert list(atoms.res_name) == [r for *_, r in ATOMS]
