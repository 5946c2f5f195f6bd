"""Reading structure ensembles (MDAnalysis) and writing multi-model PDB."""

from __future__ import annotations

import numpy as np
import pytest

from biovae.data.structure import Structures, pdb_text, read_structures, write_pdb
from biovae.errors import DataError

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


def test_bad_inputs_are_one_line_errors(fixtures_dir, tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        read_structures(tmp_path / "traj.dcd")
    (tmp_path / "traj.dcd").write_bytes(b"")
    with pytest.raises(DataError, match="--topology"):
        read_structures(tmp_path / "traj.dcd")
    with pytest.raises(DataError, match="backbone selection needs N, CA, C and O"):
        read_structures(fixtures_dir / "ubiquitin_2k39_ca_12.pdb", select="backbone")


def test_feature_names_carry_the_atoms():
    s = Structures(np.zeros((1, 2, 3)), ("CA", "CA"), ("ALA", "GLY"), [7, 8], ("B", "B"))
    assert s.features()[:3] == ("B:ALA:7:CA:x", "B:ALA:7:CA:y", "B:ALA:7:CA:z")
    assert pdb_text(s).count("ATOM") == 2
