"""Reading structure ensembles (MDAnalysis) and writing multi-model PDB."""

from __future__ import annotations

import numpy as np
import pytest

from biovae.data.structure import (
    Structures,
    pdb_text,
    read_structures,
    write_pdb,
    write_structures,
)
from biovae.errors import DataError
from tests._gzip import WHERE, damaged_gzip
from tests.cli._run import run

pytest.importorskip("MDAnalysis", reason="needs the structure extra (MDAnalysis)")


def test_reads_every_model_of_the_ubiquitin_fixture(fixtures_dir):
    s = read_structures(fixtures_dir / "ubiquitin_2k39_ca_12.pdb")
    assert s.coords.shape == (12, 76, 3)
    assert set(s.atom_names) == {"CA"} and s.res_ids[0] == 1 and s.res_names[0] == "MET"
    # first atom of model 1, as written in the file
    np.testing.assert_allclose(s.coords[0, 0], [13.659, 30.300, 18.110], atol=1e-3)


def test_pdb_round_trip(fixtures_dir, tmp_path):
    s = read_structures(fixtures_dir / "ubiquitin_2k39_ca_12.pdb")
    out = write_pdb(tmp_path / "copy.pdb", s.with_coords(s.coords[:3]))
    back = read_structures(out)
    np.testing.assert_allclose(back.coords, s.coords[:3], atol=1e-3)
    assert back.res_names == s.res_names and back.atom_names == s.atom_names


def test_four_letter_residue_names_read_back_whole(tmp_path):
    # force-field terminal names (AMBER NALA, CALA) fill columns 18-21; cut to three letters
    # (NAL, CAL) they read back as no amino acid and the written model loses those residues
    coords = np.arange(15, dtype=np.float32).reshape(1, 5, 3) * 2.5
    names = ("NALA", "GLY", "HIE", "ALA", "CALA")
    s = Structures(coords, ("CA",) * 5, names, np.arange(1, 6), ("B",) * 5)
    back = read_structures(write_pdb(tmp_path / "terminal.pdb", s))
    assert back.res_names == names and back.chain_ids == s.chain_ids
    np.testing.assert_allclose(back.coords, coords, atol=1e-3)
    with pytest.raises(DataError, match="residue name 'ALANI' has more than four letters"):
        pdb_text(Structures(coords[:, :1], ("CA",), ("ALANI",), np.array([1]), ("A",)))


def test_every_per_atom_field_needs_one_entry_per_atom():
    # 4 residue names for 5 atoms gave 12 feature names for 15 columns and an IndexError
    # from pdb_text, rather than an error where the structures were made
    coords = np.zeros((1, 5, 3), dtype=np.float32)
    fields = (("CA",) * 5, ("ALA",) * 5, np.arange(1, 6), ("A",) * 5)
    for k, what in ((1, "residue names"), (2, "residue numbers"), (3, "chain ids")):
        bad = list(fields)
        bad[k] = bad[k][:4]
        with pytest.raises(DataError, match=f"x.pdb: 4 {what} for 5 atoms; give one per atom"):
            Structures(coords, *bad, source="x.pdb")
    with pytest.raises(DataError, match="residue numbers must be one number per atom"):
        Structures(coords, fields[0], fields[1], np.ones((5, 1)), fields[3], source="x.pdb")


def test_bad_inputs_are_one_line_errors(fixtures_dir, tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        read_structures(tmp_path / "traj.dcd")
    (tmp_path / "traj.dcd").write_bytes(b"")
    with pytest.raises(DataError, match="--topology"):
        read_structures(tmp_path / "traj.dcd")
    with pytest.raises(DataError, match="backbone selection needs N, CA, C and O"):
        read_structures(fixtures_dir / "ubiquitin_2k39_ca_12.pdb", select="backbone")


def test_mmcif_reads_every_model_like_the_pdb(fixtures_dir, tmp_path):
    gemmi = pytest.importorskip("gemmi", reason="needs the structure extra (gemmi)")
    pdb = fixtures_dir / "ubiquitin_2k39_ca_12.pdb"
    st = gemmi.read_structure(str(pdb))
    st.setup_entities()
    st.make_mmcif_document().write_file(str(tmp_path / "ubq.cif"))
    a, b = read_structures(tmp_path / "ubq.cif"), read_structures(pdb)
    assert a.coords.shape == (12, 76, 3)  # MDAnalysis alone would read the first model only
    np.testing.assert_allclose(a.coords, b.coords, atol=1e-3)
    assert (a.atom_names, a.res_names, a.chain_ids) == (b.atom_names, b.res_names, b.chain_ids)
    np.testing.assert_array_equal(a.res_ids, b.res_ids)
    with pytest.raises(DataError, match="backbone selection needs N, CA, C and O"):
        read_structures(tmp_path / "ubq.cif", select="backbone")
    del st[3][0][10]  # model 4 loses a residue
    st.make_mmcif_document().write_file(str(tmp_path / "gap.cif"))
    with pytest.raises(DataError, match=r"model 4 holds other atoms than model 1 .*atom 11 is CA"):
        read_structures(tmp_path / "gap.cif")


def test_a_pdb_model_with_an_extra_atom_is_a_one_line_error(fixtures_dir, tmp_path):
    lines = (fixtures_dir / "ubiquitin_2k39_ca_12.pdb").read_text().splitlines(keepends=True)
    last = max(i for i, line in enumerate(lines) if line.startswith("ATOM"))
    extra = lines[last][:6] + "99999" + lines[last][11:]
    (tmp_path / "extra.pdb").write_text("".join([*lines[: last + 1], extra, *lines[last + 1 :]]))
    with pytest.raises(DataError, match=r"model 12 .*77 atoms against 76 \(it adds CA of GLY"):
        read_structures(tmp_path / "extra.pdb")


def test_feature_names_carry_the_atoms():
    s = Structures(np.zeros((1, 2, 3)), ("CA", "CA"), ("ALA", "GLY"), [7, 8], ("B", "B"))
    assert s.features()[:3] == ("B:ALA:7:CA:x", "B:ALA:7:CA:y", "B:ALA:7:CA:z")
    assert pdb_text(s).count("ATOM") == 2


def test_adk_trajectory_matches_its_documented_end_states(shared_data):
    """The data README: frame 0 is 0.46 Å Cα RMSD from adk_closed.pdb, the last frame 0.50 Å
    from adk_open.pdb (after superposition)."""
    from biovae.applications.structures.geometry import rmsd

    d = shared_data / "structure"
    if not (d / "adk_dims.dcd").is_file():
        pytest.skip(f"{d / 'adk_dims.dcd'} not found (set BIOVAE_DATA_DIR)")
    traj = read_structures(d / "adk_dims.dcd", d / "adk.psf")
    assert traj.coords.shape == (98, 214, 3)
    closed = read_structures(d / "adk_closed.pdb").coords[0]
    opened = read_structures(d / "adk_open.pdb").coords[0]
    assert rmsd(traj.coords[0], closed) == pytest.approx(0.46, abs=0.01)
    assert rmsd(traj.coords[-1], opened) == pytest.approx(0.50, abs=0.01)
    with pytest.raises(DataError, match="--topology"):
        read_structures(d / "adk_dims.dcd")


def test_an_alternate_location_keeps_its_first_conformer(fixtures_dir, tmp_path):
    # a Cα with conformers A and B was read as two atoms: a 1.5 Å "bond" and a chain break
    lines = (fixtures_dir / "ubiquitin_2k39_ca_12.pdb").read_text().splitlines()
    out = []
    for line in lines:
        if line.startswith("ATOM") and line[22:26].strip() == "10":
            a = line[:16] + "A" + line[17:]
            b = line[:16] + "B" + line[17:30] + f"{float(line[30:38]) + 1.5:8.3f}" + line[38:]
            out += [a, b]
        else:
            out.append(line)
    (tmp_path / "alt.pdb").write_text("\n".join(out) + "\n")
    plain = read_structures(fixtures_dir / "ubiquitin_2k39_ca_12.pdb")
    alt = read_structures(tmp_path / "alt.pdb")
    assert alt.coords.shape == plain.coords.shape == (12, 76, 3)
    np.testing.assert_array_equal(alt.coords, plain.coords)


def test_two_residues_at_one_number_keep_the_first_in_pdb_and_mmcif(fixtures_dir, tmp_path):
    # microheterogeneity: MET 1 (altloc A) and SER 1 (altloc B) at one residue number; gemmi
    # makes two residues of it, and the mmCIF reader read two Cα at residue 1 (77 atoms)
    gemmi = pytest.importorskip("gemmi", reason="needs the structure extra (gemmi)")
    out = []
    for line in (fixtures_dir / "ubiquitin_2k39_ca_12.pdb").read_text().splitlines():
        if line.startswith("ATOM") and line[22:26].strip() == "1":
            b = line[:16] + "BSER" + line[20:30] + f"{float(line[30:38]) + 1.5:8.3f}" + line[38:]
            out += [line[:16] + "A" + line[17:], b]
        else:
            out.append(line)
    (tmp_path / "micro.pdb").write_text("\n".join(out) + "\n")
    st = gemmi.read_structure(str(tmp_path / "micro.pdb"))
    st.setup_entities()
    st.make_mmcif_document().write_file(str(tmp_path / "micro.cif"))
    plain = read_structures(fixtures_dir / "ubiquitin_2k39_ca_12.pdb")
    for name in ("micro.pdb", "micro.cif"):
        s = read_structures(tmp_path / name)
        assert s.coords.shape == (12, 76, 3) and s.res_names == plain.res_names
        np.testing.assert_allclose(s.coords, plain.coords, atol=1e-3)


def test_an_empty_or_topology_paired_mmcif(fixtures_dir, tmp_path):
    gemmi = pytest.importorskip("gemmi", reason="needs the structure extra (gemmi)")
    (tmp_path / "empty.cif").write_text("")
    with pytest.raises(DataError, match=r"empty\.cif: the file is empty \(0 bytes\)"):
        read_structures(tmp_path / "empty.cif")  # was gemmi's 'vector::_M_range_check'
    pdb = fixtures_dir / "ubiquitin_2k39_ca_12.pdb"
    st = gemmi.read_structure(str(pdb))
    st.setup_entities()
    st.make_mmcif_document().write_file(str(tmp_path / "ubq.cif"))
    # with a topology (interpolate/validate pass one for trajectories) it was MDAnalysis's
    # first model only; an mmCIF names its own atoms and every model is read
    assert read_structures(tmp_path / "ubq.cif", topology=pdb).coords.shape == (12, 76, 3)


def test_pdb_text_writes_negative_residue_numbers_and_refuses_what_it_cannot_hold():
    coords = np.zeros((1, 2, 3), np.float32)
    s = Structures(coords, ("CA", "CA"), ("GLY", "ALA"), np.array([-2, 9999]), ("A", "A"))
    rows = [line for line in pdb_text(s).splitlines() if line.startswith("ATOM")]
    assert [int(r[22:26]) for r in rows] == [-2, 9999]
    bad = [
        (s.with_coords(np.full((1, 2, 3), -1000.5, np.float32)), "coordinate lies outside"),
        (Structures(coords, ("CA", "CA"), ("G", "A"), np.array([1, 10_000]), ("A", "A")), "9999"),
        (Structures(coords, ("CA", "CA"), ("G", "A"), np.array([1, 2]), ("AB", "A")), "'AB'"),
        (s.with_coords(np.zeros((10_000, 2, 3), np.float32)), "10000 models, at most 9999"),
    ]
    for structures, message in bad:
        with pytest.raises(DataError, match=message):
            pdb_text(structures)


def test_check_same_atoms_tells_another_protein_from_a_renamed_or_mutated_one(fixtures_dir):
    import warnings

    from biovae.data.structure import check_same_atoms

    s = read_structures(fixtures_dir / "ubiquitin_2k39_ca_12.pdb")

    def renamed(res_names=None, atom_names=None, res_ids=None, chains=None, n=None):
        n = n or s.n_atoms
        return Structures(
            s.coords[:, :n], atom_names or s.atom_names[:n], res_names or s.res_names[:n],
            s.res_ids[:n] if res_ids is None else res_ids, chains or s.chain_ids[:n], "other.pdb",
        )  # fmt: skip

    simulation = ["HSD" if r == "HIS" else r for r in s.res_names]  # CHARMM's name of HIS
    assert "HSD" in simulation
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # renumbered, another chain, force-field names: silent
        check_same_atoms(renamed(tuple(simulation), None, s.res_ids + 100, ("B",) * 76), s, "fix")
    mutant = list(s.res_names)
    mutant[41] = "GLY" if mutant[41] != "GLY" else "ALA"
    with pytest.warns(UserWarning, match=r"1 of 76 residues differ .*first: \w+ 42 against"):
        check_same_atoms(renamed(tuple(mutant)), s, "fix")
    with pytest.raises(DataError, match=r"68 of 76 residues differ .*; fix$"):
        check_same_atoms(renamed(tuple(reversed(s.res_names))), s, "fix")  # another sequence
    with pytest.raises(DataError, match=r"atom 3 is N .* but the model's is CA"):
        names = ("CA", "CA", "N", *s.atom_names[3:])
        check_same_atoms(renamed(atom_names=names), s, "fix", "the model")
    with pytest.raises(DataError, match="75 atoms selected but the model has 76; fix"):
        check_same_atoms(renamed(n=75), s, "fix", "the model")


def test_a_pdb_model_with_other_atoms_of_the_same_count_is_a_one_line_error(fixtures_dir, tmp_path):
    """MDAnalysis reads later models by position: a model that lacks residue 10 but has an
    extra one at its end, or lists two atoms in another order, would be read silently with
    every coordinate after them given to the wrong residue."""
    text = (fixtures_dir / "ubiquitin_2k39_ca_12.pdb").read_text()
    models = text.split("MODEL")
    atoms = models[3].splitlines(keepends=True)  # "  3", then the atoms of model 3
    gly10 = next(i for i, line in enumerate(atoms) if line[22:26] == "  10")
    last = max(i for i, line in enumerate(atoms) if line.startswith("ATOM"))
    extra = atoms[last][:17] + "GLY A  77" + atoms[last][26:]
    missing = [*atoms[:gly10], *atoms[gly10 + 1 : last + 1], extra, *atoms[last + 1 :]]
    (tmp_path / "gap.pdb").write_text("MODEL".join([*models[:3], "".join(missing), *models[4:]]))
    with pytest.raises(DataError, match=r"model 3 \(line \d+\) .*atom 10 is CA of LYS 11"):
        read_structures(tmp_path / "gap.pdb")
    swapped = [*atoms[:gly10], atoms[gly10 + 1], atoms[gly10], *atoms[gly10 + 2 :]]
    (tmp_path / "order.pdb").write_text("MODEL".join([*models[:3], "".join(swapped), *models[4:]]))
    with pytest.raises(DataError, match=r"model 3 .* where model 1 has CA of GLY 10, chain A"):
        read_structures(tmp_path / "order.pdb")


@pytest.mark.parametrize("where", WHERE)
def test_a_damaged_gzip_structure_file_is_a_one_line_error(fixtures_dir, tmp_path, capsys, where):
    """A .pdb.gz or a .cif.gz whose deflate stream is damaged: zlib.error (no OSError) from the
    model check and MDAnalysis gave a traceback and exit status 1; gemmi read it as an empty or
    garbled file ("vector::_M_range_check")."""
    pdb = fixtures_dir / "ubiquitin_2k39_ca_12.pdb"
    path = tmp_path / "dam.pdb.gz"
    path.write_bytes(damaged_gzip(pdb.read_bytes(), where))
    message = r"dam\.pdb\.gz: could not read the structure file \(Error -3 .*gzip -t"
    with pytest.raises(DataError, match=message):
        read_structures(path)
    out = tmp_path / "m"
    rc, stdout, err = run(capsys, "structure", "fit", path, "--select", "ca", "--out", out)
    assert rc == 2 and stdout == "" and not out.exists()
    assert len(err.strip().splitlines()) == 1 and "could not read the structure file" in err
    gemmi = pytest.importorskip("gemmi", reason="needs the structure extra (gemmi)")
    st = gemmi.read_structure(str(pdb))
    st.setup_entities()
    text = st.make_mmcif_document().as_string().encode()
    path = tmp_path / "dam.cif.gz"
    path.write_bytes(damaged_gzip(text, where))
    with pytest.raises(DataError, match=r"dam\.cif\.gz: could not read the mmCIF file \(Error"):
        read_structures(path)


# MDAnalysis's XYZReader, failing on the damaged stream, fails again when it is collected
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_a_trajectory_damaged_past_its_first_frames_is_a_one_line_error(fixtures_dir, tmp_path):
    """An .xyz.gz trajectory whose deflate stream is damaged in its middle: MDAnalysis reads
    its frames one by one and raised zlib.error (no OSError) in the frame loop."""
    pdb = fixtures_dir / "ubiquitin_2k39_ca_12.pdb"
    trajectory = tmp_path / "frames.xyz"
    write_xyz(trajectory, read_structures(pdb).coords)
    path = tmp_path / "dam.xyz.gz"
    path.write_bytes(damaged_gzip(trajectory.read_bytes(), "middle"))
    with pytest.raises(DataError, match=r"dam\.xyz\.gz: could not read the structure file"):
        read_structures(path, topology=pdb)


def write_xyz(path, coords: np.ndarray) -> None:
    """An XYZ trajectory of Cα atoms: one frame per row of ``coords`` (frames, atoms, 3)."""
    with open(path, "w") as fh:
        for frame in coords:
            fh.write(f"{len(frame)}\nframe\n")
            fh.writelines(f"C {x:.3f} {y:.3f} {z:.3f}\n" for x, y, z in frame)


def _split_models(src, folder):
    """The fixture's 12 models as 12 single-model files m1.pdb ... m12.pdb."""
    folder.mkdir()
    models, model = [], None
    for line in src.read_text().splitlines(keepends=True):
        if line.startswith("MODEL"):
            model = []
        elif line.startswith("ENDMDL"):
            models.append(model)
        elif model is not None and line.startswith("ATOM"):
            model.append(line)
    for i, lines in enumerate(models, 1):
        (folder / f"m{i}.pdb").write_text("".join(lines) + "END\n")
    return folder


def test_a_folder_of_pdb_files_is_one_ensemble_in_natural_name_order(fixtures_dir, tmp_path):
    whole = read_structures(fixtures_dir / "ubiquitin_2k39_ca_12.pdb")
    folder = _split_models(fixtures_dir / "ubiquitin_2k39_ca_12.pdb", tmp_path / "models")
    (folder / "README.txt").write_text("not a structure\n")
    s = read_structures(folder)
    # m1, m2, ..., m10, m11, m12 (by name alone m10 would come second): model k is frame k-1
    np.testing.assert_allclose(s.coords, whole.coords, atol=1e-3)
    assert s.features() == whole.features() and s.source == str(folder)


def test_a_folders_frames_are_named_by_their_files(fixtures_dir, tmp_path):
    """Ids (embed tables, reports) are file names without the format suffix, a file of several
    models numbering them from 1 (model 3 of m10.pdb: m10_model3), in natural name order; a
    single file's frames stay frame_0, frame_1, ..."""
    whole = read_structures(fixtures_dir / "ubiquitin_2k39_ca_12.pdb")
    folder = _split_models(fixtures_dir / "ubiquitin_2k39_ca_12.pdb", tmp_path / "models")
    for i in (10, 11, 12):
        (folder / f"m{i}.pdb").unlink()
    write_pdb(folder / "m10.pdb", whole.with_coords(whole.coords[9:]))
    (folder / "m9.pdb").unlink()
    write_pdb(folder / "m9.pdb.gz", whole.with_coords(whole.coords[8:9]))  # stem m9
    s = read_structures(folder)
    names = (*(f"m{i}" for i in range(1, 10)), "m10_model1", "m10_model2", "m10_model3")
    assert s.frame_ids == names and tuple(s.to_dataset().ids) == names
    np.testing.assert_allclose(s.coords, whole.coords, atol=1e-3)
    assert tuple(whole.to_dataset().ids) == tuple(f"frame_{i}" for i in range(12))
    assert tuple(s.with_coords(s.coords[:2]).to_dataset().ids) == ("frame_0", "frame_1")


def test_folder_files_of_one_stem_are_named_by_their_whole_names(fixtures_dir, tmp_path):
    from biovae.data.structure_inputs import folder_frame_names

    whole = read_structures(fixtures_dir / "ubiquitin_2k39_ca_12.pdb")
    folder = tmp_path / "same"
    folder.mkdir()
    write_pdb(folder / "a.pdb", whole.with_coords(whole.coords[:1]))
    write_structures(folder / "a.cif", whole.with_coords(whole.coords[1:3]))
    s = read_structures(folder)
    assert tuple(s.to_dataset().ids) == ("a.cif_model1", "a.cif_model2", "a.pdb")
    np.testing.assert_allclose(s.coords, whole.coords[[1, 2, 0]], atol=1e-3)
    files = [tmp_path / n for n in ("x_model1.pdb", "x.pdb")]  # ids only: no files read
    assert folder_frame_names(files, [1, 2]) == ("x_model1.pdb", "x.pdb_model1", "x.pdb_model2")


def test_a_folder_file_of_other_atoms_or_without_structures_is_a_one_line_error(
    fixtures_dir, tmp_path
):
    folder = _split_models(fixtures_dir / "ubiquitin_2k39_ca_12.pdb", tmp_path / "models")
    lines = (folder / "m3.pdb").read_text().splitlines(keepends=True)
    (folder / "m3.pdb").write_text("".join(lines[:-3] + lines[-1:]))  # two atoms fewer
    with pytest.raises(DataError, match=r"m3\.pdb: 74 atoms .* must hold the same atoms"):
        read_structures(folder)
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("x\n")
    with pytest.raises(DataError, match="folder without PDB or mmCIF files"):
        read_structures(empty)


def test_a_topology_without_coordinates_is_a_one_line_error(tmp_path, capsys):
    from tests.data.test_text_inputs import _psf_and_dcd

    psf, _ = _psf_and_dcd(tmp_path)
    with pytest.raises(DataError, match=r"clean\.psf: holds atoms but no coordinates"):
        read_structures(psf)
    rc, stdout, err = run(capsys, "structure", "fit", psf, "--out", tmp_path / "m")
    assert rc == 2 and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "m").exists() and stdout == ""
