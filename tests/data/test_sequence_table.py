"""Sequences held in a table column (splice junctions excerpt, lower-case DNA)."""

from __future__ import annotations

import numpy as np
import pytest

from biovae.data import DNA, decode, read_dataset
from biovae.errors import DataError


def test_splice_junctions_excerpt(fixtures_dir):
    path = fixtures_dir / "splice_junctions_200.tsv"
    ds = read_dataset(path, sequence_column="sequence")
    lines = path.read_text().splitlines()
    assert lines[0] == "id\tclass\tsequence"
    rows = [line.split("\t") for line in lines[1:]]
    assert ds.x.shape == (200, 60) and ds.x.dtype == np.uint8
    assert ds.alphabet == "ACGT-"
    assert ds.features == tuple(str(i) for i in range(1, 61))
    assert list(ds.ids) == [r[0] for r in rows] and ds.ids[0] == "1"
    assert set(ds.obs) == {"class"}
    assert ds.obs["class"].tolist() == [r[1] for r in rows]
    assert decode(ds.x, DNA) == [r[2] for r in rows]
    first = "CTAGGCTCCAGATAGCCATAGAAGAACCAAACACTTTCTGCGTGTGTGAGAATAATCAGA"
    assert decode(ds.x[:1], DNA)[0] == first


def test_lower_case_is_upper_cased_and_other_columns_kept(write):
    path = write("p.csv", "name,class,score,seq\nx,+,0.5,acgta\ny,-,,ttgca\n")
    ds = read_dataset(path, sequence_column="seq")
    assert list(ds.ids) == ["x", "y"]
    assert decode(ds.x, DNA) == ["ACGTA", "TTGCA"]
    assert ds.obs["class"].tolist() == ["+", "-"]
    np.testing.assert_array_equal(ds.obs["score"], [0.5, np.nan])


def test_protein_column(write):
    ds = read_dataset(write("p.tsv", "id\tseq\na\tMKLV\nb\tMRLW\n"), sequence_column="seq")
    assert ds.alphabet == "ACDEFGHIKLMNPQRSTVWY-" and ds.x.shape == (2, 4)


@pytest.mark.parametrize(
    ("text", "kwargs", "pattern"),
    [
        (
            "id\tseq\na\tACGT\n",
            {"sequence_column": "sequence"},
            r"sequence column 'sequence' not found; available columns: 'id', 'seq'",
        ),
        (
            "id\tseq\na\tACGT\nb\tACG\n",
            {"sequence_column": "seq"},
            r"ragged sequences: record 'b' has length 3, expected 4 \(record 'a'\)",
        ),
        (
            "id\tseq\na\tACGT\nb\t\n",
            {"sequence_column": "seq"},
            r"record 'b' \(line 3\), column 'seq': empty sequence",
        ),
        (
            "id\tseq\n\na\tACGT\n\nb\t\n",  # blank lines count
            {"sequence_column": "seq"},
            r"record 'b' \(line 5\), column 'seq': empty sequence",
        ),
        (
            "id\tseq\na\tACGT\nb\tACRT\n",
            {"sequence_column": "seq"},
            r"record 'b' position 3 .*letter 'R'",
        ),
        (
            "id\tseq\na\tACGT\nb\tAC\u00a0T\n",  # a non-breaking space was reported as '?'
            {"sequence_column": "seq"},
            r"record 'b' position 3: character '\\xa0' \(U\+00A0\) is not a sequence letter",
        ),
        (
            "id\tseq\na\tACGT\n",
            {"sequence_column": "id"},
            r"sequence column 'id' is also the id column",
        ),
        (
            "id\tseq\na\tACGT\n",
            {"sequence_column": "seq", "metadata_columns": ["class"]},
            r"metadata column 'class' not found",
        ),
    ],
)
def test_bad_sequence_tables(write, text, kwargs, pattern):
    path = write("bad.tsv", text)
    with pytest.raises(DataError, match=r"bad\.tsv: " + pattern):
        read_dataset(path, **kwargs)


def test_drop_invalid_in_table(write):
    path = write("d.tsv", "id\tseq\na\tACGT\nb\tACRT\nc\tTTTT\n")
    ds = read_dataset(path, sequence_column="seq", drop_invalid=True)
    assert list(ds.ids) == ["a", "c"]
