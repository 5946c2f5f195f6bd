"""Writing structure ensembles: PDB records against the format's columns (v3.3), mmCIF for
what PDB cannot hold, and both read back by gemmi (an independent reader) and by biovae."""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pytest

from biovae.data.structure import Structures, pdb_text, read_structures, write_structures
from biovae.data.structure_out import check_writable
from biovae.errors import DataError

pytest.importorskip("MDAnalysis", reason="needs the structure extra (MDAnalysis)")

#: chain, residue number, insertion code, residue name of each Cα: chain A ends at 52A
ATOMS = [("A", 51, "", "GLY"), ("A", 52, "A", "ALA"), ("B", 1, "", "LYS"), ("B", 2, "", "SER")]


def two_chains(chains=("A", "A", "B", "B"), segids=(), models=2) -> Structures:
    """Two chains of :data:`ATOMS`, ``models`` frames 3.8 Å steps apart along x."""
    x = 3.8 * np.arange(len(ATOMS), dtype=np.float32)
    coords = np.array([np.stack([x + 0.5 * m, -x, x / 2 - m], axis=1) for m in range(models)])
    coords = coords.reshape(models, len(ATOMS), 3)
    _, numbers, icodes, names = zip(*ATOMS)
    return Structures(
        coords, ("CA",) * 4, names, np.array(numbers), chains, "two.pdb", icodes, None, segids
    )


def test_each_chain_ends_with_a_ter_record_in_every_model():
    """PDB v3.3 TER: columns 1-6 'TER   ', 7-11 serial (one more than the atom before it),
    18-20 residue name, 22 chain, 23-26 residue number, 27 insertion code, all those of the
    chain's last atom; the next atom's serial is one more again. TER records lie inside each
    MODEL ... ENDMDL, and END is the last record."""
    lines = pdb_text(two_chains()).splitlines()
    assert [r[:6] for r in lines] == [
        *("MODEL ", "ATOM  ", "ATOM  ", "TER   ", "ATOM  ", "ATOM  ", "TER   ", "ENDMDL") * 2,
        "END",
    ]
    assert [int(r[10:14]) for r in lines if r.startswith("MODEL")] == [1, 2]  # columns 11-14
    model_1 = lines[1:7]
    assert [int(r[6:11]) for r in model_1] == [1, 2, 3, 4, 5, 6]  # TERs take serials 3 and 6
    ter_a, ter_b = model_1[2], model_1[5]
    assert ter_a == "TER       3      ALA A  52A"
    assert ter_b == "TER       6      SER B   2 "
    for ter, atom in ((ter_a, model_1[1]), (ter_b, model_1[4])):
        assert ter[11:17] == " " * 6 and ter[17:20] == atom[17:20] and ter[20] == " "
        assert ter[21] == atom[21] and ter[22:26] == atom[22:26] and ter[26] == atom[26]
    assert [r[:30] for r in lines[9:15]] == [r[:30] for r in model_1]  # numbered alike


def test_chains_named_by_segid_are_ended_where_the_segid_changes():
    seg = two_chains(chains=("A",) * 4, segids=("PROA", "PROA", "PROB", "PROB"), models=1)
    lines = pdb_text(seg).splitlines()
    ters = [r for r in lines if r.startswith("TER")]
    assert ters == ["TER       3      ALA    52A", "TER       6      SER     2 "]
    assert [r[72:76] for r in lines if r.startswith("ATOM")] == ["PROA"] * 2 + ["PROB"] * 2


def test_written_pdb_reads_back_with_gemmi_and_mdanalysis(tmp_path):
    gemmi = pytest.importorskip("gemmi", reason="needs the structure extra (gemmi)")
    s = two_chains()
    path = write_structures(tmp_path / "two.pdb", s)
    st = gemmi.read_structure(str(path))
    assert len(st) == 2
    for model, xyz in zip(st, s.coords):
        assert [ch.name for ch in model] == ["A", "B"]
        residues = [(r.seqid.num, r.seqid.icode.strip(), r.name) for ch in model for r in ch]
        assert residues == [(n, i, r) for _, n, i, r in ATOMS]
        pos = [a.pos.tolist() for ch in model for r in ch for a in r]
        np.testing.assert_allclose(pos, xyz, atol=5e-4)
    back = read_structures(path)  # MDAnalysis
    np.testing.assert_allclose(back.coords, s.coords, atol=5e-4)
    assert back.features() == s.features() and back.chain_ids == s.chain_ids


def test_a_real_ensemble_reads_back_with_gemmi(shared_data, tmp_path):
    gemmi = pytest.importorskip("gemmi", reason="needs the structure extra (gemmi)")
    source = shared_data / "structure" / "pdb2k39_ca.pdb"
    s = read_structures(source)
    path = write_structures(tmp_path / "ubq.pdb", s)
    assert path.read_text().count("\nTER ") == 116 == len(s)
    theirs = gemmi.read_structure(str(source))
    ours = gemmi.read_structure(str(path))
    assert len(ours) == len(theirs) == 116
    for a, b in zip(ours, theirs):
        assert [ch.name for ch in a] == [ch.name for ch in b] == ["A"]
        assert [(r.seqid.num, r.name) for r in a["A"]] == [(r.seqid.num, r.name) for r in b["A"]]
        np.testing.assert_allclose(
            [r["CA"][0].pos.tolist() for r in a["A"]], [r["CA"][0].pos.tolist() for r in b["A"]]
        )


def test_chain_ids_pdb_cannot_hold_are_written_as_mmcif(tmp_path):
    """A chain id of two letters (an mmCIF ``auth_asym_id`` of a large entry) has no PDB
    column: PDB is refused, naming the chain and mmCIF, before any file is written; a .cif
    name writes mmCIF, which gemmi and biovae read back alike."""
    gemmi = pytest.importorskip("gemmi", reason="needs the structure extra (gemmi)")
    s = two_chains(chains=("AA", "AA", "B", "B"))
    with pytest.raises(DataError, match=r"chain id 'AA' has more than one letter.*\.cif"):
        write_structures(tmp_path / "two.pdb", s)
    assert not list(tmp_path.iterdir())
    path = write_structures(tmp_path / "two.cif", s)
    st = gemmi.read_structure(str(path))
    assert len(st) == 2
    for model, xyz in zip(st, s.coords):
        assert [ch.name for ch in model] == ["AA", "B"]
        residues = [(r.seqid.num, r.seqid.icode.strip(), r.name) for ch in model for r in ch]
        assert residues == [(n, i, r) for _, n, i, r in ATOMS]
        pos = [a.pos.tolist() for ch in model for r in ch for a in r]
        np.testing.assert_allclose(pos, xyz, atol=5e-4)
    back = read_structures(path, chains="AA")
    assert back.features()[::3] == ("AA:GLY:51:CA:x", "AA:ALA:52A:CA:x")
    np.testing.assert_allclose(back.coords, s.coords[:, :2], atol=5e-4)
    gz = read_structures(write_structures(tmp_path / "two.cif.gz", s))
    assert gz.features() == s.features()


def test_mmcif_names_a_segid_chain_by_its_segid(tmp_path):
    pytest.importorskip("gemmi", reason="needs the structure extra (gemmi)")
    seg = two_chains(chains=("A",) * 4, segids=("PROA", "PROA", "PROTB", "PROTB"))
    with pytest.raises(DataError, match="segment id 'PROTB' has more than four letters"):
        pdb_text(seg)
    back = read_structures(write_structures(tmp_path / "seg.cif", seg), chains="PROTB")
    assert back.chain_ids == ("PROTB",) * 2 and back.res_names == ("LYS", "SER")


def test_what_pdb_cannot_hold_is_refused_before_any_frame_is_decoded():
    """``check_writable`` reads only the atoms (a model's, without frames) and the count."""
    atoms = two_chains(chains=("AA", "AA", "B", "B"), models=0)
    with pytest.raises(DataError, match=r"two.pdb: cannot write PDB: chain id 'AA'.*\.cif"):
        check_writable("out.pdb", atoms, 5, "-n")
    check_writable("out.cif", atoms, 5, "-n")
    fits = two_chains(models=0)
    check_writable("out.pdb", fits, 9999, "-n")
    with pytest.raises(DataError, match=r"-n is 10000, but .* at most 9999 models; .*\.cif"):
        check_writable("out.pdb", fits, 10_000, "-n")
    check_writable("out.cif", fits, 10_000, "-n")


def test_mmcif_numbers_each_chains_residues_and_reads_back_alike(tmp_path):
    """PDBx ``label_seq_id`` of a polymer residue is its place in its chain from 1 (52 and 52A
    are two places), not '.'; residues are ATOM records with their names as read (HSD of a
    CHARMM histidine kept), and gemmi, MDAnalysis and biovae read back the same residues and
    coordinates."""
    gemmi = pytest.importorskip("gemmi", reason="needs the structure extra (gemmi)")
    s = dataclasses.replace(two_chains(), res_names=("GLY", "HSD", "LYS", "SER"))
    path = write_structures(tmp_path / "two.cif", s)
    sites = (
        gemmi.cif.read(str(path))
        .sole_block()
        .find("_atom_site.", ["group_PDB", "label_seq_id", "label_comp_id", "auth_seq_id"])
    )
    rows = [tuple(row) for row in sites]
    model = [("ATOM", "1", "GLY", "51"), ("ATOM", "2", "HSD", "52")]
    model += [("ATOM", "1", "LYS", "1"), ("ATOM", "2", "SER", "2")]
    assert rows == model * 2
    st = gemmi.read_structure(str(path))
    assert [[r.label_seq for ch in m for r in ch] for m in st] == [[1, 2, 1, 2]] * 2
    back = read_structures(path)
    np.testing.assert_allclose(back.coords, s.coords, atol=5e-4)
    assert (back.features(), back.icodes) == (s.features(), s.icodes)
    mda = pytest.importorskip("MDAnalysis")
    if "MMCIF" not in mda._READERS:  # MDAnalysis < 2.8 (the oldest we allow) reads no mmCIF
        return
    with warnings.catch_warnings():  # it reads the first model only, and says so
        warnings.simplefilter("ignore")
        u = mda.Universe(str(path))
    assert list(u.atoms.resids) == [51, 52, 1, 2] and list(u.atoms.icodes) == ["", "A", "", ""]
    assert list(u.atoms.resnames) == ["GLY", "HSD", "LYS", "SER"]
    np.testing.assert_allclose(u.atoms.positions, s.coords[0], atol=5e-4)
