"""Atomic writers and round trips through the readers."""

from __future__ import annotations

import gzip
import json

import numpy as np
import pandas as pd
import pytest

from biovae.data import (
    PROTEIN,
    atomic_open,
    atomic_write,
    read_dataset,
    write_fasta,
    write_table,
)
from biovae.data.writers import write_json
from biovae.errors import DataError


def leftovers(folder):
    return sorted(p.name for p in folder.iterdir() if ".tmp" in p.name)


def test_atomic_write_success_keeps_extension(tmp_path):
    seen = []

    def writer(tmp):
        seen.append(tmp)
        np.save(tmp, np.ones(3))  # numpy.save would append ".npy" to a path without it

    out = atomic_write(tmp_path / "sub" / "a.npy", writer)
    assert out == tmp_path / "sub" / "a.npy"
    assert seen[0].parent == out.parent and seen[0].name.endswith(".npy")
    np.testing.assert_array_equal(np.load(out), np.ones(3))
    assert leftovers(out.parent) == []


def test_atomic_write_failure_leaves_old_file_and_no_temp(tmp_path):
    target = tmp_path / "scores.tsv"
    target.write_text("old\n")

    def broken(tmp):
        tmp.write_text("half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        atomic_write(target, broken)
    assert target.read_text() == "old\n"
    assert leftovers(tmp_path) == []


def test_atomic_write_writer_that_writes_nothing(tmp_path):
    with pytest.raises(DataError, match="the writer produced no file"):
        atomic_write(tmp_path / "x.txt", lambda tmp: None)
    assert not (tmp_path / "x.txt").exists()


def test_atomic_open_failure(tmp_path):
    target = tmp_path / "a.txt"
    with pytest.raises(ValueError, match="boom"), atomic_open(target) as fh:
        fh.write("partial")
        raise ValueError("boom")
    assert not target.exists() and leftovers(tmp_path) == []


def test_write_table_round_trip_tsv(tmp_path):
    path = tmp_path / "embed.tsv"
    z = np.array([[0.1, -2.5], [1 / 3, np.nan]])
    write_table(path, ["c1", "c2"], {"label": np.array(["x", "y"]), "z": z}, id_name="cell")
    lines = path.read_text().splitlines()
    assert lines[0] == "cell\tlabel\tz_1\tz_2"
    assert lines[1] == "c1\tx\t0.1\t-2.5"
    assert lines[2].split("\t")[3] == ""
    back = read_dataset(path, metadata_columns=["z_2"])
    assert list(back.ids) == ["c1", "c2"] and back.obs["label"].tolist() == ["x", "y"]
    assert back.features == ("z_1",) and np.isnan(back.obs["z_2"][1])
    assert float(lines[2].split("\t")[2]) == 1 / 3  # shortest text that reads back exactly


def test_write_table_csv_gz(tmp_path):
    path = tmp_path / "s.csv.gz"
    write_table(path, ["a", "b"], {"score": np.array([1.5, 2.0])})
    with gzip.open(path, "rt") as fh:
        assert fh.read() == "id,score\na,1.5\nb,2.0\n"
    ds = read_dataset(path)
    np.testing.assert_array_equal(ds.x[:, 0], [1.5, 2.0])


def test_write_table_bad_shape(tmp_path):
    with pytest.raises(ValueError, match=r"column 'z' has shape \(3,\)"):
        write_table(tmp_path / "x.tsv", ["a", "b"], {"z": np.zeros(3)})
    assert list(tmp_path.iterdir()) == []


def test_write_fasta_codes_round_trip(tmp_path, fixtures_dir):
    ds = read_dataset(fixtures_dir / "blat_ecolx_first40.a2m")
    path = tmp_path / "out.fa"
    write_fasta(path, ds.ids, ds.x, alphabet=ds.alphabet, line_width=60)
    lines = path.read_text().splitlines()
    assert lines[0] == ">BLAT_ECOLX/24-286" and len(lines[1]) == 60
    # the match columns under the full range: numbering from it would be off, and it says so
    with pytest.warns(UserWarning, match="spans 263 residues but the sequence has 253"):
        back = read_dataset(path)
    np.testing.assert_array_equal(back.x, ds.x)
    assert back.alphabet == PROTEIN and list(back.ids) == list(ds.ids)


def test_write_fasta_strings_and_descriptions(tmp_path):
    path = tmp_path / "o.fa"
    seqs = ["ACGT", "TTAA"]
    write_fasta(path, ["s1", "s2"], seqs, descriptions=["designed", ""], line_width=None)
    assert path.read_text() == ">s1 designed\nACGT\n>s2\nTTAA\n"
    with pytest.raises(ValueError, match="whitespace"):
        write_fasta(path, ["bad id"], ["ACGT"])
    with pytest.raises(ValueError, match="alphabet"):
        write_fasta(path, ["a"], np.zeros((1, 3), dtype=np.uint8))
    assert path.read_text() == ">s1 designed\nACGT\n>s2\nTTAA\n"


def test_a_folder_in_the_way_is_refused_and_a_failed_rename_leaves_no_temp(tmp_path, monkeypatch):
    (tmp_path / "dd.fasta").mkdir()
    with pytest.raises(DataError, match=r"dd\.fasta: it is an existing folder"):
        write_fasta(tmp_path / "dd.fasta", ["a"], ["ACGT"])
    with pytest.raises(DataError, match="it is an existing folder"):
        atomic_write(tmp_path / "dd.fasta", lambda tmp: tmp.write_text("x"))
    assert leftovers(tmp_path) == []

    def failing_replace(src, dst):
        raise OSError("rename refused")

    monkeypatch.setattr("biovae.data.writers.os.replace", failing_replace)
    with pytest.raises(OSError, match="rename refused"), atomic_open(tmp_path / "a.txt") as fh:
        fh.write("complete")
    assert leftovers(tmp_path) == [] and not (tmp_path / "a.txt").exists()


def test_write_json_writes_undefined_numbers_as_null(tmp_path):
    obj = {
        "se": float("nan"),
        "hi": np.float32(np.inf),
        "v": np.array([1.5, np.nan]),
        "n": np.int64(3),
        "ok": np.bool_(True),
        "nested": [{"x": -np.inf}],
    }
    path = write_json(tmp_path / "r.json", obj)
    text = path.read_text()
    assert "NaN" not in text and "Infinity" not in text
    assert json.loads(text) == {
        "se": None, "hi": None, "v": [1.5, None], "n": 3, "ok": True, "nested": [{"x": None}]
    }  # fmt: skip
    assert leftovers(tmp_path) == []


def test_a_wide_table_is_written_from_one_block_per_dtype(tmp_path, monkeypatch):
    """``biovae sample`` of a 15,000-gene model wrote a frame of 15,000 one-column blocks:
    to_csv took 10 s per 100 samples (44 s for 1,000); one block per dtype takes 1-2 s."""
    blocks = []
    to_csv = pd.DataFrame.to_csv

    def spy(frame, *args, **kwargs):
        blocks.append(frame._mgr.nblocks)
        return to_csv(frame, *args, **kwargs)

    monkeypatch.setattr(pd.DataFrame, "to_csv", spy)
    x = np.arange(3 * 500).reshape(3, 500)
    path = tmp_path / "wide.tsv"
    write_table(path, ["a", "b", "c"], {f"g{j}": x[:, j] for j in range(500)})
    assert blocks == [2]  # the ids, and the integers
    back = pd.read_csv(path, sep="\t", index_col=0)
    assert back.shape == (3, 500) and back.loc["c", "g499"] == x[2, 499]


@pytest.mark.parametrize("how", ["atomic_open", "atomic_write"])
def test_an_output_that_is_a_link_writes_the_file_it_points_to_and_keeps_the_link(tmp_path, how):
    # the link was renamed over: a new file in its place, the file it pointed to left stale
    runs = tmp_path / "runs"
    runs.mkdir()
    (runs / "z.csv").write_text("old\n")
    link = tmp_path / "latest.csv"
    link.symlink_to("runs/z.csv")
    if how == "atomic_open":
        with atomic_open(link) as fh:
            fh.write("new\n")
    else:
        atomic_write(link, lambda tmp: tmp.write_text("new\n"))
    assert link.is_symlink() and (runs / "z.csv").read_text() == "new\n"
    assert leftovers(tmp_path) == leftovers(runs) == []
