"""CSV/TSV tables: the crc microbiome excerpt, id/metadata rules and bad input."""

from __future__ import annotations

import gzip
import warnings

import numpy as np
import pandas as pd
import pytest

from biovae.data import read_dataset, read_table
from biovae.data.tables import load_table, read_obs_table
from biovae.errors import DataError
from tests._gzip import DAMAGED_MEMBER


def raw_rows(path):
    lines = path.read_text(encoding="utf-8").splitlines()
    return lines[0].split("\t"), [line.split("\t") for line in lines[1:]]


def test_crc_abundance_excerpt(fixtures_dir):
    path = fixtures_dir / "crc_abundance_60x50.tsv"
    ds = read_dataset(path)
    header, rows = raw_rows(path)
    assert ds.x.shape == (60, 50) and ds.x.dtype == np.float32
    assert ds.features == tuple(header[1:])
    assert ds.features[0] == "s__Faecalibacterium_prausnitzii"
    assert list(ds.ids) == [r[0] for r in rows]
    assert ds.ids[0] == "FengQ_2015.metaphlan_bugs_list.stool:SID31004"
    for i, j in [(0, 0), (0, 1), (17, 23), (59, 49)]:
        assert ds.x[i, j] == np.float32(float(rows[i][j + 1]))
    assert ds.x[0, 0] == np.float32(0.11110667728384942)
    assert ds.obs == {}
    assert ds.source == str(path)


def test_obs_path_join(fixtures_dir):
    ds = read_dataset(
        fixtures_dir / "crc_abundance_60x50.tsv", obs_path=fixtures_dir / "crc_metadata_60.tsv"
    )
    assert set(ds.obs) == {
        "studyID",
        "study_condition",
        "DNA_extraction_kit",
        "country",
        "age",
        "gender",
        "BMI",
        "number_reads",
    }
    assert ds.obs["study_condition"][:2].tolist() == ["CRC", "control"]
    assert ds.obs["age"].dtype == np.float64 and ds.obs["age"][:2].tolist() == [64.0, 68.0]
    assert ds.obs["BMI"][1] == 32.0 and ds.obs["number_reads"][0] == 40898340.0
    assert ds.obs["gender"].dtype == object


def test_obs_path_joins_by_id_not_by_order(write):
    data = write("d.tsv", "id\tg1\nb\t1\na\t2\n")
    meta = write("m.tsv", "sample\tlabel\textra\na\tx\t1\nc\tq\t3\nb\ty\t2\n")
    ds = read_dataset(data, obs_path=str(meta))
    assert ds.obs["label"].tolist() == ["y", "x"]
    assert ds.obs["extra"].tolist() == [2.0, 1.0]


@pytest.mark.parametrize(
    "text",
    [
        ",g1,g2\ns1,1,2\ns2,3,4\n",  # pandas DataFrame.to_csv with its index
        '"","g1","g2"\n"s1",1,2\n"s2",3,4\n',  # R write.csv
    ],
)
def test_unnamed_index_column_holds_the_ids(write, text):
    path = write("t.csv", text)
    truth = pd.read_csv(path, index_col=0)
    ds = read_dataset(path)
    assert list(ds.ids) == list(truth.index) == ["s1", "s2"]
    assert ds.features == tuple(truth.columns)
    np.testing.assert_array_equal(ds.x, truth.to_numpy(dtype=np.float32))
    meta = write("m.csv", text.replace("g1", "label").replace("1,2", "x,2").replace("3,4", "y,4"))
    joined = read_dataset(path, obs_path=str(meta))
    assert joined.obs["label"].tolist() == ["x", "y"]


def test_unnamed_index_column_transposed(tmp_path):
    frame = pd.DataFrame({"s1": [1, 2], "s2": [3, 4]}, index=["g1", "g2"])
    path = tmp_path / "t.tsv"
    frame.to_csv(path, sep="\t")  # features x samples, index written under an empty name
    ds = read_dataset(path, transpose=True)
    assert list(ds.ids) == ["s1", "s2"] and ds.features == ("g1", "g2")
    np.testing.assert_array_equal(ds.x, frame.T.to_numpy(dtype=np.float32))


def test_a_covariate_error_names_the_metadata_table_it_came_from(write):
    """A gap in an --obs column was blamed on the data file alone, which has no such column."""
    from biovae.models.covariates import CovariateSpec

    data = write("d.tsv", "id\tg1\na\t1\nb\t2\n")
    ds = read_dataset(data, obs_path=str(write("m.tsv", "id\tage\na\t30\nb\tNA\n")))
    with pytest.raises(
        DataError, match=r"d\.tsv \(metadata .*m\.tsv\): continuous covariate 'age'"
    ):
        CovariateSpec.fit(ds.obs, continuous=("age",), source=ds.source, ids=ds.ids)


def test_obs_path_ids_repeated_only_in_extra_rows(write):
    data = write("d.tsv", "id\tg1\nb\t1\na\t2\n")
    meta = write("m.tsv", "id\tlabel\nzz\tq\na\tx\nzz\tr\nb\ty\n")
    assert read_dataset(data, obs_path=str(meta)).obs["label"].tolist() == ["y", "x"]
    meta = write("m2.tsv", "id\tlabel\nzz\tq\na\tx\nzz\tr\nb\ty\na\tw\n")
    with pytest.raises(DataError, match=r"m2\.tsv: duplicate record id 'a'"):
        read_dataset(data, obs_path=str(meta))


def test_obs_path_missing_id(write):
    data = write("d.tsv", "id\tg1\na\t1\nzz\t2\n")
    meta = write("m.tsv", "id\tlabel\na\tx\n")
    with pytest.raises(DataError, match=r"m\.tsv: record 'zz' of .*d\.tsv has no row"):
        read_dataset(data, obs_path=str(meta))


@pytest.mark.parametrize("written", ["a", " A", "A "])
def test_obs_path_ids_that_differ_in_case_or_spaces_are_named(write, written):
    data = write("d.tsv", "id\tg1\nA\t1\nB\t2\n")
    meta = write("m.tsv", f"id\tlabel\n{written}\tx\nB\ty\n")
    pattern = f"record 'A' and the table's '{written}' differ only in case or surrounding spaces"
    with pytest.raises(DataError, match=r"m\.tsv: record 'A' of .*; " + pattern):
        read_dataset(data, obs_path=str(meta))


def test_obs_path_id_column(write):
    data = write("d.tsv", "id\tg1\na\t1\n")
    meta = write("m.tsv", "label\tkey\nx\ta\n")
    assert read_dataset(data, obs_path=str(meta), obs_id_column="key").obs["label"][0] == "x"
    with pytest.raises(DataError, match=r"m\.tsv: id column 'nope' not found.*'label', 'key'"):
        read_dataset(data, obs_path=str(meta), obs_id_column="nope")


def test_id_and_metadata_rules(write):
    path = write("t.tsv", "sample_id\tcond\tage\tg1\tg2\n1\tx\t30\t0.5\t1\n2\ty\t40\t2\t3\n")
    ds = read_dataset(path, metadata_columns=["age"])
    assert list(ds.ids) == ["1", "2"]
    assert ds.features == ("g1", "g2")
    assert ds.obs["cond"].tolist() == ["x", "y"]
    assert ds.obs["age"].tolist() == [30.0, 40.0]
    np.testing.assert_array_equal(ds.x, [[0.5, 1], [2, 3]])


def test_single_metadata_name_as_string(write):
    ds = read_dataset(write("t.tsv", "id\tage\tg\na\t3\t1\n"), metadata_columns="age")
    assert ds.features == ("g",) and ds.obs["age"].tolist() == [3.0]


def test_numeric_first_column_is_a_feature(write):
    ds = read_dataset(write("t.csv", "a,b\n1,2\n3,4\n"))
    assert list(ds.ids) == ["0", "1"] and ds.features == ("a", "b")


def test_explicit_id_column_keeps_text(write):
    ds = read_dataset(write("t.csv", "g1,code\n1,007\n2,010\n"), id_column="code")
    assert list(ds.ids) == ["007", "010"] and ds.features == ("g1",)


def test_text_columns_stay_text(write):
    ds = read_table(write("t.tsv", "id\tcluster\tg\na\t3\t1\nb\t10\t2\n"), text_columns=["cluster"])
    assert ds.obs["cluster"].tolist() == ["3", "10"] and ds.features == ("g",)


def test_csv_gz_and_transpose(tmp_path):
    path = tmp_path / "m.csv.gz"
    with gzip.open(path, "wt") as fh:
        fh.write("gene,s1,s2,s3\nG1,1,2,3\nG2,4,5,6\n")
    ds = read_dataset(path, transpose=True)
    assert list(ds.ids) == ["s1", "s2", "s3"] and ds.features == ("G1", "G2")
    np.testing.assert_array_equal(ds.x, [[1, 4], [2, 5], [3, 6]])


def test_transpose_allow_missing(write):
    path = write("gt.tsv", "variant\ts1\ts2\ts3\nrs1\t0\t\t2\nrs2\t1\t1\tNA\n")
    ds = read_dataset(path, transpose=True, allow_missing=True)
    assert list(ds.ids) == ["s1", "s2", "s3"] and ds.features == ("rs1", "rs2")
    np.testing.assert_array_equal(ds.x, [[0, 1], [np.nan, 1], [2, np.nan]])
    with pytest.raises(DataError, match=r"record 's2', column 'rs1': missing value"):
        read_dataset(path, transpose=True)


def test_transpose_refuses_text_and_names_the_way_out(write):
    path = write("m.tsv", "gene\ts1\ts2\nG1\t1\tx\n")
    with pytest.raises(DataError, match=r"m\.tsv: sample column 's2' is not numeric.*--metadata"):
        read_dataset(path, transpose=True)
    with pytest.raises(DataError, match="feature annotation column 'taxonomy' not found"):
        read_dataset(path, transpose=True, metadata_columns=["taxonomy"])


def test_transpose_leaves_out_feature_annotation_columns(write):
    """QIIME's classic OTU table (biom convert --to-tsv --header-key taxonomy) ends in a
    taxonomy column, MetaPhlAn 3's merged table has NCBI_tax_id: they annotate the features."""
    path = write(
        "otu.tsv",
        "#OTU ID\tNCBI_tax_id\tS1\tS2\ttaxonomy\n"
        "OTU1\t853\t5\t0\tk__Bacteria; p__Firmicutes\n"
        "OTU2\t816\t1\t7\tk__Bacteria; p__Bacteroidetes\n",
    )
    ds = read_dataset(path, transpose=True, metadata_columns=["taxonomy", "NCBI_tax_id"])
    assert list(ds.ids) == ["S1", "S2"] and ds.features == ("OTU1", "OTU2")
    np.testing.assert_array_equal(ds.x, [[5, 1], [0, 7]])


@pytest.mark.parametrize(
    ("text", "pattern"),
    [
        ("id\tg1\tg2\na\t1\t2\nb\t\t3\n", r"record 'b', line 3, column 'g1': missing.*impute"),
        ("id\tg1\tg2\na\t1\t2\nb\t3\tNA\n", r"record 'b', line 3, column 'g2': missing value"),
        ("id\tg1\na\t1\nb\tinf\n", r"record 'b', line 3, column 'g1': non-finite value inf"),
        ("id\tg1\na\t1e40\n", r"record 'a', line 2, column 'g1': non-finite.*float32"),
    ],
)
def test_nonfinite_features(write, text, pattern):
    path = write("bad.tsv", text)
    with pytest.raises(DataError, match=r"bad\.tsv: " + pattern):
        read_dataset(path)


@pytest.mark.parametrize(
    ("text", "pattern"),
    [
        ("id,g1,g2\n\ns1,1,2\ns2,,4\n", r"record 's2', line 4, column 'g1': missing"),
        ("id,g1\r\n\r\ns1,1\r\n  \r\ns2,inf\r\n", r"record 's2', line 5, column 'g1': non-finite"),
        ('id,note,g1\ns1,"two\nlines",1\ns2,x,\n', r"record 's2', line 4, column 'g1': missing"),
        ("id,g1\n\ns1,1\n\n,2\n", r"line 5, column 'id': empty record id"),
        ("id,g1\n\ns1,1,2\ns2,3\n", r"malformed table \(line 3 has more fields"),
    ],
)
def test_error_lines_count_blank_lines(write, text, pattern):
    path = write("bad.csv", text)
    with pytest.raises(DataError, match=r"bad\.csv: " + pattern):
        read_dataset(path)


@pytest.mark.parametrize("sep", [",", "\t"])
def test_record_line_matches_the_file(tmp_path, sep):
    # each record's id is the line it is written on; blank and whitespace-only lines between
    lines = ["id" + sep + "g"]
    for filler in ["", "   ", "", "\t" if sep == "," else " ", ""]:
        lines.append(f"L{len(lines) + 1}{sep}1")
        lines.append(filler)
    path = tmp_path / "t.txt"
    path.write_text("\r\n".join(lines) + "\r\n", encoding="utf-8")
    table = load_table(path, sep=sep)
    ids = table.frame["id"].tolist()
    assert len(ids) == 5
    assert [table.line(row) for row in range(len(ids))] == [int(i[1:]) for i in ids]


@pytest.mark.parametrize(
    ("text", "kwargs", "pattern"),
    [
        ("", {}, r"the file is empty"),
        ("id\tg1\n", {}, r"no data rows"),
        ("id\tlabel\na\tx\n", {}, r"no numeric feature columns \(found 'id', 'label'\)"),
        ("id\tg1\na\t1\na\t2\n", {}, r"duplicate record id 'a'"),
        ("id\tb\tb\tg1\na\tx\ty\t1\n", {"metadata_columns": ["b"]}, r"duplicate column name 'b'"),
        ("id\tid\tg1\na\tb\t1\n", {"id_column": "id"}, r"duplicate column name 'id'"),
        ("id\tg1\na\t1\n\t2\n", {}, r"line 3, column 'id': empty record id"),
        ("id\tg1\na\t1\n", {"id_column": "cell"}, r"id column 'cell' not found.*'id', 'g1'"),
        ("id\tg1\na\t1\n", {"metadata_columns": ["batch"]}, r"metadata column 'batch' not found"),
        ("id\tg1\na\t1\t2\t3\n", {}, r"malformed table"),
    ],
)
def test_bad_tables(write, text, kwargs, pattern):
    path = write("bad.tsv", text)
    with pytest.raises(DataError, match=r"bad\.tsv: " + pattern) as info:
        read_dataset(path, **kwargs)
    assert "\n" not in str(info.value)


def test_available_columns_are_truncated(write):
    header = "id\t" + "\t".join(f"g{j}" for j in range(30))
    path = write("wide.tsv", header + "\na\t" + "\t".join("1" * 30) + "\n")
    with pytest.raises(DataError, match=r"'g8' \(\+21 more\)"):
        read_dataset(path, metadata_columns=["nope"])


@pytest.mark.parametrize("gap", [False, True])
def test_true_false_columns_are_levels_true_and_false_with_or_without_gaps(write, gap):
    # pandas reads True/False with an empty field as objects, which became 1.0 / 0.0 (and in
    # a data table a feature with a missing value); without one as bool, which became text
    flag = ["True", "", "False"] if gap else ["True", "False", "False"]
    rows = "".join(f"s{i}\t{i}\t{f}\n" for i, f in enumerate(flag))
    ds = read_dataset(write("d.tsv", "id\tg1\tflag\n" + rows))
    assert ds.features == ("g1",)
    assert ds.obs["flag"].tolist() == flag


def test_nullable_and_numpy_booleans_give_the_same_levels():
    from biovae.data._columns import to_obs

    nullable = pd.Series([True, pd.NA, False], dtype="boolean")
    assert to_obs(nullable).tolist() == ["True", "", "False"]
    assert to_obs(pd.Series([True, False])).tolist() == ["True", "False"]


@pytest.mark.parametrize("missing", ["", "NA", "nan"])
def test_a_feature_column_missing_throughout_is_a_feature_however_missing_is_spelled(
    write, missing
):
    # R writes a column with no values as NA throughout: it became metadata and the feature
    # dropped out unnoticed, where the same column written by pandas (empty) is reported
    text = f"id\tsnp1\tsnp2\ns1\t0\t{missing}\ns2\t2\t{missing}\n"
    path = write("gt.tsv", text)
    ds = read_dataset(path, allow_missing=True)
    assert ds.features == ("snp1", "snp2") and ds.obs == {}
    np.testing.assert_array_equal(ds.x, [[0, np.nan], [2, np.nan]])
    with pytest.raises(DataError, match=r"record 's1', line 2, column 'snp2': missing value"):
        read_dataset(path)
    transposed = write("gt_t.tsv", f"variant\ts1\ts2\nrs1\t0\t{missing}\nrs2\t1\t{missing}\n")
    ds = read_dataset(transposed, transpose=True, allow_missing=True)
    np.testing.assert_array_equal(ds.x, [[0, 1], [np.nan, np.nan]])


@pytest.mark.parametrize(("rows", "line"), [(1, 3), (3000, 3002)])
@pytest.mark.parametrize("suffix", [".tsv", ".tsv.gz"])
def test_a_table_not_in_utf8_names_its_line_not_the_field_counts(tmp_path, rows, line, suffix):
    # a Latin-1 id after the first block pandas reads was blamed on the field counts
    lines = ["id\tg1\tg2", *(f"r{i}\t{i}\t{i % 7}" for i in range(rows)), "r\xe9\t1\t2"]
    data = ("\n".join(lines) + "\n").encode("latin-1")
    path = tmp_path / f"t{suffix}"
    path.write_bytes(gzip.compress(data) if suffix.endswith(".gz") else data)
    with pytest.raises(DataError, match=rf"t{suffix}: not UTF-8 text \(line {line}\); save"):
        read_dataset(path)


def test_a_binary_file_read_as_a_table_is_not_utf8_text(tmp_path):
    path = tmp_path / "counts.h5ad"
    path.write_bytes(b"\x89HDF\r\n\x1a\n\x00\x00\xff\xfe" * 10)
    with pytest.raises(DataError, match=r"not UTF-8 text \(line 1\).*CLI --format"):
        read_dataset(path, fmt="csv")


def test_a_table_without_a_header_is_refused_not_read_short_of_a_record(write):
    """A headerless table of values lost its first record (read as column names) silently."""
    path = write("x.csv", "0.53,-1.2,3.0\n0.1,0.2,0.3\n1.5,2.5,3.5\n")
    with pytest.raises(DataError, match=r"x\.csv: the first line holds numbers \(-1\.2, 3\.0"):
        read_dataset(path)
    # whole numbers may be names (pandas writes 0,1,2,... for unnamed columns); so may text
    assert read_dataset(write("y.csv", "id,0,1\na,0.5,1.5\nb,2,3\n")).features == ("0", "1")
    assert read_dataset(write("z.csv", "id,g1,2.5e3\na,0.5,1\n")).features == ("g1", "2.5e3")


@pytest.mark.parametrize("name", ["#SampleID", "SampleID", "sample-id", "sample_name", "Sample ID"])
def test_an_id_column_named_as_qiime_names_it_keeps_numeric_ids(write, name):
    """Numeric-looking ids under QIIME's/Qiita's id headers became a feature (ids 0..n-1)."""
    ds = read_dataset(write("t.tsv", f"{name}\tO1\tO2\n001\t1\t2\n10317.000001\t3\t4\n"))
    assert list(ds.ids) == ["001", "10317.000001"] and ds.features == ("O1", "O2")
    np.testing.assert_array_equal(ds.x, [[1, 2], [3, 4]])


def test_a_features_x_samples_table_with_numeric_sample_names(write):
    """Qiita sample names (10317.000001) in the header were refused as 'not column names'."""
    path = write("t.tsv", "#OTU ID\t10317.000001\t10317.000002\nO1\t1\t2\nO2\t3\t4\n")
    ds = read_dataset(path, transpose=True)
    assert list(ds.ids) == ["10317.000001", "10317.000002"] and ds.features == ("O1", "O2")
    np.testing.assert_array_equal(ds.x, [[1, 3], [2, 4]])
    headerless = write("h.tsv", "O1\t0.5\t2.5\nO2\t3\t4\n")
    with pytest.raises(DataError, match=r"first line holds numbers.*name its first column 'id'"):
        read_dataset(headerless, transpose=True)


def test_a_comment_line_above_the_header_is_named(write):
    """`biom convert --to-tsv` writes a comment first; the error blamed the field counts."""
    text = "# Constructed from biom file\n#OTU ID\tS1\tS2\nO1\t1\t2\n"
    with pytest.raises(DataError, match=r"t\.tsv: line 1 \('# Constructed from biom file'\) is a"):
        read_dataset(write("t.tsv", text), transpose=True)
    ids, obs = read_obs_table(write("m.tsv", "#SampleID\nS1\nS2\n"))  # one column: a header
    assert list(ids) == ["S1", "S2"] and obs == {}


@pytest.mark.parametrize(("data_id", "meta_id"), [("001", "1"), ("1", "1.0"), ("7", "07")])
def test_obs_path_ids_that_are_one_number_written_otherwise_are_named(write, data_id, meta_id):
    data = write("d.tsv", f"id\tg1\n{data_id}\t1\nB\t2\n")
    meta = write("m.tsv", f"id\tlabel\n{meta_id}\tx\nB\ty\n")
    pattern = f"record '{data_id}' and the table's '{meta_id}' are the same number written"
    with pytest.raises(DataError, match=r"m\.tsv: record .*; " + pattern):
        read_dataset(data, obs_path=str(meta))


def test_a_feature_column_with_a_stray_value_is_refused_not_made_metadata(write):
    """One decimal comma turned a species column into metadata: fitted on one feature less."""
    text = "id\tO1\tO2\nS1\t0.5\t0.5\nS2\t0,25\t0.75\nS3\t0.1\t0.9\n"
    with pytest.raises(DataError, match=r"d\.tsv: line 3, column 'O1': '0,25' is not a number"):
        read_dataset(write("d.tsv", text))
    ds = read_dataset(write("m.tsv", text), metadata_columns=["O1"])
    assert ds.features == ("O2",) and ds.obs["O1"].tolist() == ["0.5", "0,25", "0.1"]
    ds = read_dataset(write("t.tsv", "id\tsite\tO1\nS1\tgut\t1\nS2\t2\t2\nS3\tskin\t3\n"))
    assert ds.features == ("O1",) and ds.obs["site"].tolist() == ["gut", "2", "skin"]
    # numbers beside words (an age column's "unknown") are metadata, as before
    ds = read_dataset(write("a.tsv", "id\tage\tO1\nS1\t45\t1\nS2\t52\t2\nS3\tunknown\t3\n"))
    assert ds.features == ("O1",) and ds.obs["age"].tolist() == ["45", "52", "unknown"]


@pytest.mark.parametrize("header", ["id,a,,c", "id,a,b,c,"])
def test_a_column_without_a_name_is_refused_not_made_a_feature_named_nothing(write, header):
    """A blank name in the header made a feature called ''; a trailing separator on every line
    was blamed on missing values of column ''."""
    rows = "\nS1,1,2,3" + ("," if header.endswith(",") else "") + "\n"
    with pytest.raises(DataError, match=r"d\.csv: column (3|5) of the header has no name"):
        read_dataset(write("d.csv", header + rows))
    assert read_dataset(write("i.csv", ",a,b\nS1,1,2\n")).features == ("a", "b")  # R/pandas


@pytest.mark.parametrize("rows_before", [0, 3000])
def test_a_damaged_gzip_table_is_a_one_line_error_not_a_field_count(tmp_path, rows_before):
    """A .tsv.gz whose deflate data are damaged (in the header, or after rows pandas has
    parsed) raised zlib.error, which is no OSError: a traceback instead of a DataError."""
    lines = ["id\tloc-1.1\tloc-1.2", *(f"r{i}\t1\t1" for i in range(rows_before))]
    good = gzip.compress(("\n".join(lines) + "\n").encode()) if rows_before else b""
    path = tmp_path / "g.tsv.gz"
    path.write_bytes(good + DAMAGED_MEMBER)
    with pytest.raises(DataError, match=r"g\.tsv\.gz: could not read the table \(.*gzip -t"):
        read_dataset(path, id_column="id", allow_missing=True)


def test_repeated_feature_names_are_made_unique_as_anndata_does_with_one_warning(write):
    """A cells x genes table with a repeated gene symbol was refused, while the same genes in an
    .h5ad or a 10x folder were read; now every reader keeps each column, renamed as anndata's
    var_names_make_unique names it, and says so once."""
    anndata = pytest.importorskip("anndata")
    names = ["A", "A", "B", "A-1", "A"]
    header = "\t".join(["id", *names])
    path = write("dup.tsv", header + "\nc1\t1\t2\t3\t4\t5\nc2\t6\t7\t8\t9\t10\n")
    with pytest.warns(UserWarning, match=r"dup\.tsv: feature names repeat \(e\.g\. 'A'\)") as w:
        ds = read_dataset(path)
    assert len([m for m in w if "repeat" in str(m.message)]) == 1
    with warnings.catch_warnings():  # anndata's: the suffixes may clash with 'A-1' (they do)
        warnings.simplefilter("ignore")
        expected = tuple(anndata.utils.make_index_unique(pd.Index(names)))
    assert ds.features == expected == ("A", "A-2", "B", "A-1", "A-3")
    np.testing.assert_array_equal(ds.x, [[1, 2, 3, 4, 5], [6, 7, 8, 9, 10]])  # none dropped
