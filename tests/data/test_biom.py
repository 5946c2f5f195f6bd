"""BIOM input: the fixture made from the CRC abundance excerpt reads exactly like the TSV it was
made from, fits from the command line, and a missing ``biom-format`` gives the install line."""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
import pytest

from biovae.data import read_dataset
from biovae.errors import DataError, MissingDependencyError
from tests._gzip import WHERE, damaged_gzip
from tests.cli._run import run

BIOM, TSV, META = "crc_abundance_60x50.biom", "crc_abundance_60x50.tsv", "crc_metadata_60.tsv"


def test_biom_fixture_matches_the_table_it_was_made_from(fixtures):
    pytest.importorskip("biom")
    from_biom = read_dataset(fixtures / BIOM, obs_path=str(fixtures / META))
    from_tsv = read_dataset(fixtures / TSV, obs_path=str(fixtures / META))
    np.testing.assert_array_equal(from_biom.x, from_tsv.x)
    assert list(from_biom.ids) == list(from_tsv.ids) and from_biom.features == from_tsv.features
    # the sample metadata stored in the BIOM file agree with the metadata table
    raw = read_dataset(fixtures / BIOM)
    meta = pd.read_csv(fixtures / META, sep="\t").set_index("sample_id").loc[list(raw.ids)]
    assert list(raw.obs["study_condition"]) == list(meta["study_condition"])
    assert list(raw.obs["studyID"]) == list(meta["studyID"])


def test_biom_fits_from_the_command_line(fixtures, tmp_path, capsys):
    pytest.importorskip("biom")
    out = tmp_path / "m"
    rc, _, err = run(
        capsys, "fit", fixtures / BIOM, "--obs", fixtures / META, "--likelihood",
        "hurdle_dirichlet", "--categorical-covariates", "studyID", "--epochs", "2",
        "--hidden", "8", "--latent", "2", "--quiet", "--out", out,
    )  # fmt: skip
    assert rc == 0, err
    assert (out / "config.json").is_file()


@pytest.mark.parametrize("container", ["json", "hdf5"])
def test_sample_metadata_with_missing_values(tmp_path, container):
    biom = pytest.importorskip("biom")
    h5py = pytest.importorskip("h5py")
    meta = [
        {"w": 1.5, "site": "gut", "note": "a"},
        {"w": 2.5, "site": None, "note": None},
        {"w": None, "site": "skin", "note": None},
    ]
    table = biom.Table(np.array([[1, 0, 5], [2, 3, 0]]), ["o1", "o2"], ["s1", "s2", "s3"],
                       sample_metadata=meta)  # fmt: skip
    path = tmp_path / f"t.{container}.biom"
    if container == "json":
        path.write_text(table.to_json("test"))
    else:
        with h5py.File(path, "w") as fh:
            table.to_hdf5(fh, "test")
    obs = read_dataset(path).obs
    assert obs["w"].dtype == np.float64
    np.testing.assert_array_equal(obs["w"], [1.5, 2.5, np.nan])
    assert obs["site"].tolist() == ["gut", "", "skin"]
    assert obs["note"].tolist() == ["a", "", ""]


@pytest.mark.parametrize("text", [object, "string"])  # pandas 3 reads text as a string dtype
def test_empty_text_is_missing_in_metadata_columns(text):
    from biovae.data._columns import text_table_obs

    for missing in ("", "NA"):
        np.testing.assert_array_equal(
            text_table_obs(pd.Series(["1.5", missing, "2"], dtype=text)), [1.5, np.nan, 2.0]
        )
    assert text_table_obs(pd.Series(["gut", "", "skin"], dtype=text)).tolist() == [
        "gut",
        "",
        "skin",
    ]
    assert text_table_obs(pd.Series(["", ""], dtype=text)).tolist() == ["", ""]


def test_not_a_biom_file_is_one_line(tmp_path):
    pytest.importorskip("biom")
    bad = tmp_path / "bad.biom"
    bad.write_text("this is not a BIOM table\n")
    with pytest.raises(DataError, match="BIOM") as info:
        read_dataset(bad)
    assert "\n" not in str(info.value)
    bad.write_bytes(b"\x89HDF\r\n\x1a\n truncated")
    with pytest.raises(DataError, match="not a readable BIOM file") as info:
        read_dataset(bad)
    assert "\n" not in str(info.value)


def test_missing_biom_format_names_the_extra(fixtures, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "biom", None)  # import biom now raises ImportError
    with pytest.raises(MissingDependencyError, match=r"biovae\[microbiome\]"):
        read_dataset(fixtures / BIOM)
    out = tmp_path / "m"
    rc, stdout, err = run(capsys, "fit", fixtures / BIOM, "--out", out, "--quiet")
    assert rc == 2 and "biovae[microbiome]" in err and len(err.strip().splitlines()) == 1
    assert not out.exists() and stdout == ""


def test_a_gzipped_json_biom_file_is_read_by_its_name(fixtures, tmp_path):
    biom = pytest.importorskip("biom")
    import gzip

    text = biom.load_table(str(fixtures / BIOM)).to_json("biovae test")
    with gzip.open(tmp_path / "t.biom.gz", "wt") as fh:
        fh.write(text)
    (tmp_path / "t.biom").write_text(text)
    gz, plain = read_dataset(tmp_path / "t.biom.gz"), read_dataset(tmp_path / "t.biom")
    np.testing.assert_array_equal(gz.x, plain.x)
    assert list(gz.ids) == list(plain.ids) and gz.features == plain.features


@pytest.mark.parametrize("where", WHERE)
def test_a_damaged_gzip_biom_file_says_so(fixtures, tmp_path, capsys, where):
    """A .biom.gz whose deflate stream is damaged was "not a readable BIOM file ...; check
    that it is a BIOM 1.0 (JSON) or 2.x (HDF5) table": the fix is to replace the file."""
    biom = pytest.importorskip("biom")
    text = biom.load_table(str(fixtures / BIOM)).to_json("test").encode()
    path = tmp_path / "t.biom.gz"
    path.write_bytes(damaged_gzip(text, where))
    with pytest.raises(DataError, match=r"t\.biom\.gz: could not read the BIOM file \(Error -3"):
        read_dataset(path)
    out = tmp_path / "m"
    rc, stdout, err = run(capsys, "fit", path, "--out", out, "--quiet")
    assert rc == 2 and stdout == "" and not out.exists() and len(err.strip().splitlines()) == 1
    assert "gzip -t" in err
