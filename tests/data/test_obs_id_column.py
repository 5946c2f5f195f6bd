"""The join of a metadata table (``obs_path``) to the records by id: which column holds the
ids (``obs_id_column``, default the first), and extra, missing, reordered, repeated and
numeric-looking ids. Expected labels are written out by hand, per record."""

from __future__ import annotations

import pytest

from biovae.data import read_dataset
from biovae.errors import DataError

# records 007, 7 and r2; "007" and "7" are different ids (text), though the same number
DATA = "id\tg1\n007\t1\n7\t2\nr2\t3\n"


def test_ids_in_a_later_column_are_read_when_named(write):
    """Ids in the third column: the default (first column) finds none, names the column it
    read and the flag to use; naming the column joins every record to its own row."""
    data = write("d.tsv", DATA)
    meta = write("m.tsv", "study\tlabel\tsample_id\ns1\tx\t7\ns1\ty\tr2\ns2\tz\t007\n")
    with pytest.raises(DataError) as err:
        read_dataset(data, obs_path=str(meta))
    message = str(err.value)
    assert message.startswith(f"{meta}: record '007' of {data} has no row")
    assert "ids read from its column 'study'" in message and "--obs-id-column" in message
    ds = read_dataset(data, obs_path=str(meta), obs_id_column="sample_id")
    assert ds.obs["label"].tolist() == ["z", "x", "y"]
    assert ds.obs["study"].tolist() == ["s2", "s1", "s1"]
    assert "sample_id" not in ds.obs


def test_a_named_id_column_the_table_lacks_is_named_with_its_columns(write):
    data = write("d.tsv", DATA)
    meta = write("m.tsv", "study\tlabel\tsample_id\ns1\tx\t7\n")
    with pytest.raises(DataError) as err:
        read_dataset(data, obs_path=str(meta), obs_id_column="sampleid")
    message = str(err.value)
    assert message.startswith(f"{meta}: id column 'sampleid' not found in the metadata table")
    assert "--obs-id-column" in message and "'sample_id'" in message


def test_extra_and_reordered_rows_join_by_id(write):
    data = write("d.tsv", DATA)
    meta = write("m.tsv", "k\tsample_id\tlabel\n0\tzz\tq\n1\tr2\ty\n2\t007\tz\n3\tzz\tw\n4\t7\tx\n")
    ds = read_dataset(data, obs_path=str(meta), obs_id_column="sample_id")
    assert ds.obs["label"].tolist() == ["z", "x", "y"]
    assert ds.obs["k"].tolist() == [2.0, 4.0, 1.0]


def test_a_record_without_a_row_is_named_with_the_id_column(write):
    data = write("d.tsv", DATA)
    meta = write("m.tsv", "note\tsample_id\tlabel\na\t007\tz\nb\t7\tx\n")
    with pytest.raises(DataError) as err:
        read_dataset(data, obs_path=str(meta), obs_id_column="sample_id")
    message = str(err.value)
    assert message.startswith(f"{meta}: record 'r2' of {data} has no row in the metadata table")
    assert "column 'sample_id'" in message and "1 of 3 records missing" in message
    assert "add rows for them" in message and len(message.splitlines()) == 1


def test_a_records_id_on_two_rows_is_named_with_its_column_and_lines(write):
    data = write("d.tsv", DATA)
    meta = write("m.tsv", "note\tsample_id\tlabel\na\t007\tz\nb\t7\tx\nc\tr2\ty\nd\t007\tw\n")
    with pytest.raises(DataError) as err:
        read_dataset(data, obs_path=str(meta), obs_id_column="sample_id")
    message = str(err.value)
    assert message.startswith(f"{meta}: duplicate record id '007' in column 'sample_id'")
    assert "(lines 2 and 5)" in message and "--obs-id-column" in message


@pytest.mark.parametrize("id_column", [None, "sample_id"])
def test_numeric_looking_ids_are_compared_as_text(write, id_column):
    """'007' and '7' are two records: each gets its own row, in the first column or a
    named one, and a table writing 7 for record 007 has no row for it."""
    data = write("d.tsv", DATA)
    rows = [("7", "seven"), ("r2", "y"), ("007", "zeros")]
    if id_column is None:
        meta = write("m.tsv", "sample_id\tlabel\n" + "".join(f"{i}\t{v}\n" for i, v in rows))
    else:
        meta = write("m.tsv", "label\tsample_id\n" + "".join(f"{v}\t{i}\n" for i, v in rows))
    ds = read_dataset(data, obs_path=str(meta), obs_id_column=id_column)
    assert ds.obs["label"].tolist() == ["zeros", "seven", "y"]
    short = write("s.tsv", "label\tsample_id\nseven\t7\ny\tr2\n")  # no row for '007'
    with pytest.raises(DataError, match=r"record '007' of .* has no row"):
        read_dataset(data, obs_path=str(short), obs_id_column="sample_id")


def test_a_pandas_index_column_is_skipped_by_naming_the_id_column(write):
    """DataFrame.to_csv writes its index (0, 1, ...) first: the ids are in a later column."""
    data = write("d.tsv", DATA)
    meta = write("m.tsv", "\tsample_id\tlabel\n0\t7\tx\n1\t007\tz\n2\tr2\ty\n")
    with pytest.raises(DataError, match=r"record '007' .* has no row"):
        read_dataset(data, obs_path=str(meta))
    ds = read_dataset(data, obs_path=str(meta), obs_id_column="sample_id")
    assert ds.obs["label"].tolist() == ["z", "x", "y"]
