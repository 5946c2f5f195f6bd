"""The read_dataset dispatcher: format inference, option checks, file checks."""

from __future__ import annotations

import numpy as np
import pytest

from biovae.data import FORMATS, infer_format, read_dataset
from biovae.errors import DataError


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("a.csv", "csv"),
        ("a.CSV.gz", "csv"),
        ("a.tsv", "tsv"),
        ("a.tsv.gz", "tsv"),
        ("a.txt", "tsv"),
        ("a.npy", "npy"),
        ("a.h5ad", "h5ad"),
        ("a.fa", "fasta"),
        ("a.fasta", "fasta"),
        ("a.fna", "fasta"),
        ("a.faa", "fasta"),
        ("a.a2m", "fasta"),
        ("a.afa", "fasta"),
        ("a.aln", "fasta"),
        ("a.fa.gz", "fasta"),
        ("x.y.a2m.gz", "fasta"),
    ],
)
def test_infer_format(name, fmt):
    assert infer_format(name) == fmt


def test_unknown_extension_lists_supported_and_format_option(write):
    path = write("data.xlsx", "x")
    with pytest.raises(DataError) as info:
        read_dataset(path)
    message = str(info.value)
    assert message.startswith(f"{path}: cannot tell the file format")
    assert ".csv" in message and ".h5ad" in message and ".a2m" in message
    assert "--format" in message and ", ".join(FORMATS) in message


@pytest.mark.parametrize("name", ["f.a3m", "f.sto", "f.stockholm.gz"])
def test_variants_only_alignments_point_to_variants_fit(write, name):
    # they were 'cannot tell the file format', and '--format fasta' then misreads them
    with pytest.raises(DataError, match=r"read by 'biovae variants fit'.*convert it to A2M"):
        read_dataset(write(name, ">a\nACGT\n>b\nAcCGT\n"))


def test_a_folder_without_a_matrix_and_an_unsuffixed_gzip_fasta(write, tmp_path):
    import gzip

    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match=r"a folder without matrix\.mtx"):
        read_dataset(tmp_path / "empty")
    path = tmp_path / "seqs.fasta"  # gzip-compressed without '.gz'
    path.write_bytes(gzip.compress(b">a\nACGT\n>b\nACGA\n"))
    assert read_dataset(path).x.shape == (2, 4)


def test_fmt_overrides_extension(write):
    ds = read_dataset(write("data.dat", "id,g\na,1\n"), fmt="csv")
    assert ds.features == ("g",)
    np.testing.assert_array_equal(ds.x, [[1.0]])
    with pytest.raises(DataError, match=r"data\.dat: unknown format 'xls'; use one of csv"):
        read_dataset(write("data.dat", "x"), fmt="xls")


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(DataError, match=r"nope\.tsv: file not found; check the path"):
        read_dataset(tmp_path / "nope.tsv")
    folder = tmp_path / "dir.tsv"
    folder.mkdir()
    with pytest.raises(DataError, match=r"dir\.tsv: not a regular file"):
        read_dataset(folder)


def test_zero_byte_file(write):
    with pytest.raises(DataError, match=r"empty\.fa: the file is empty \(0 bytes\)"):
        read_dataset(write("empty.fa", ""))


@pytest.mark.parametrize(
    ("name", "text", "kwargs", "pattern"),
    [
        ("s.fa", ">a\nAC\n", {"layer": "counts"}, r"option layer does not apply to fasta"),
        ("s.fa", ">a\nAC\n", {"transpose": True}, r"option transpose does not apply"),
        ("s.fa", ">a\nAC\n", {"metadata_columns": ["x"]}, r"option metadata_columns"),
        ("t.tsv", "id\tg\na\t1\n", {"layer": "counts"}, r"option layer does not apply to tsv"),
        ("t.tsv", "id\tg\na\t1\n", {"drop_invalid": True}, r"drop_invalid applies to sequences"),
        (
            "t.tsv",
            "id\tg\na\t1\n",
            {"transpose": True, "sequence_column": "g"},
            r"transpose and sequence_column cannot be combined",
        ),
    ],
)
def test_options_that_do_not_apply_are_refused(write, name, text, kwargs, pattern):
    with pytest.raises(DataError, match=pattern):
        read_dataset(write(name, text), **kwargs)
