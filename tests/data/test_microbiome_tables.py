"""Microbiome tables as profilers and their users write them: QIIME 2 metadata directives, R's
write.table, MetaPhlAn's comment lines, taxa x samples tables, metadata ids not first."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from biovae.data import read_dataset
from biovae.data.tables import read_obs_table
from biovae.errors import DataError

ABUND, META = "crc_abundance_60x50.tsv", "crc_metadata_60.tsv"


@pytest.fixture
def crc(fixtures_dir):
    """The CRC fixtures: abundances (samples x taxa) and metadata, indexed by sample id."""
    abund = pd.read_csv(fixtures_dir / ABUND, sep="\t", index_col=0)
    meta = pd.read_csv(fixtures_dir / META, sep="\t", index_col=0)
    return abund, meta


def test_qiime2_directive_and_comment_rows_leave_metadata_numbers_numbers(crc, tmp_path):
    """QIIME 2 metadata's '#q2:types' row (second line) made every column of numbers text:
    BMI was audited and coloured as 40-odd categories, and counted as a row by sample --obs."""
    _, meta = crc
    path = tmp_path / "q2.tsv"
    types = ["categorical"] * 4 + ["numeric", "categorical", "numeric", "numeric"]
    lines = ["sample-id\t" + "\t".join(meta.columns), "#q2:types\t" + "\t".join(types)]
    lines += ["# a comment line"]
    lines += ["\t".join(map(str, [i, *row])) for i, row in zip(meta.index, meta.to_numpy())]
    path.write_text("\n".join(lines).replace("\tnan", "\t") + "\n", encoding="utf-8")
    ids, obs = read_obs_table(path)
    assert list(ids) == list(meta.index)
    for name in ("age", "BMI", "number_reads"):
        assert obs[name].dtype == np.float64, name
        np.testing.assert_array_equal(obs[name], meta[name].to_numpy(dtype=np.float64))
    assert list(obs["study_condition"]) == list(meta["study_condition"])


def test_a_metadata_table_of_comment_rows_only_is_refused(write):
    with pytest.raises(DataError, match=r"m\.tsv: no data rows, only comment rows"):
        read_obs_table(write("m.tsv", "sample-id\tBMI\n#q2:types\tnumeric\n"))


def test_an_empty_id_after_comment_rows_is_named_at_its_line(write):
    path = write("m.tsv", "sample-id\tBMI\n#q2:types\tnumeric\ns1\t2\n\t3\n")
    with pytest.raises(DataError, match=r"m\.tsv: line 4, column 'sample-id': empty record id"):
        read_obs_table(path)


Q2_HEAD = "sample-id\tsubject\tbatch\tBMI\n"


def test_q2_categorical_columns_of_numbers_are_categories_as_written(write):
    """'#q2:types' categorical: subject ids and batch numbers are text levels as written
    ("007", "1.0"), never the numbers 7 and 1; numeric and untyped columns stay numbers."""
    rows = "s1\t007\t1\t22.5\ns2\t2\t1.0\t\ns3\t3\t\tNA\n"
    path = write("m.tsv", Q2_HEAD + "#q2:types\tCategorical\tcategorical\t\n" + rows)
    ids, obs = read_obs_table(path)
    assert list(ids) == ["s1", "s2", "s3"]
    assert obs["subject"].dtype == object and list(obs["subject"]) == ["007", "2", "3"]
    assert list(obs["batch"]) == ["1", "1.0", ""]  # "" = missing, as in any text column
    assert obs["BMI"].dtype == np.float64  # type left empty: inferred, as before
    np.testing.assert_array_equal(obs["BMI"], [22.5, np.nan, np.nan])
    _, plain = read_obs_table(write("p.tsv", Q2_HEAD + rows))  # no directive: numbers
    np.testing.assert_array_equal(plain["subject"], [7.0, 2.0, 3.0])


def test_q2_numeric_column_holding_text_is_a_one_line_error(write):
    path = write(
        "m.tsv",
        Q2_HEAD + "#q2:types\t\t\tnumeric\n# a comment\ns1\t1\t1\t2\n"
        "s2\t2\t1\tNA\ns3\t3\t1\tobese\n",
    )
    with pytest.raises(DataError) as err:
        read_obs_table(path)
    message = str(err.value)
    assert message.startswith(f"{path}: column 'BMI' is typed numeric by the #q2:types line")
    assert "'obese' (line 6)" in message and "\n" not in message
    _, plain = read_obs_table(write("p.tsv", Q2_HEAD + "s1\t1\t1\t2\ns3\t3\t1\tobese\n"))
    assert list(plain["BMI"]) == ["2", "obese"]  # untyped: text, as before


def test_q2_numeric_columns_of_numbers_or_nothing_are_numbers(write):
    text = Q2_HEAD + "#q2:types\tnumeric\tnumeric\tnumeric\ns1\t1\t\t2\ns2\t2.5\t\tNA\n"
    _, obs = read_obs_table(write("m.tsv", text))
    np.testing.assert_array_equal(obs["subject"], [1.0, 2.5])
    assert obs["batch"].dtype == np.float64 and np.isnan(obs["batch"]).all()
    np.testing.assert_array_equal(obs["BMI"], [2.0, np.nan])


def test_an_unknown_q2_type_is_refused_naming_the_column(write):
    path = write("m.tsv", Q2_HEAD + "#q2:types\tcategorical\tnumber\tnumeric\ns1\t1\t1\t2\n")
    with pytest.raises(DataError, match=r"m\.tsv: the #q2:types line types column 'batch' as "):
        read_obs_table(path)


def test_q2_typed_metadata_reaches_the_cli(tmp_path, capsys):
    """A numeric column holding text stops `fit --obs` with status 2 and one line naming the
    file, column, value and line, and leaves no model."""
    from tests.cli._run import run, small_table

    frame = small_table(tmp_path)
    head = "id\tsite\tBMI\n#q2:types\tcategorical\tnumeric\n"
    body = "".join(f"{r}\t{i % 3 + 1}\t{'x' if i == 4 else i}\n" for i, r in enumerate(frame.index))
    (tmp_path / "m.tsv").write_text(head + body, encoding="utf-8")
    out = tmp_path / "model"
    rc, _, err = run(
        capsys,
        "fit",
        tmp_path / "d.tsv",
        "--obs",
        tmp_path / "m.tsv",
        "--categorical-covariates",
        "site",
        "--epochs",
        "1",
        "--out",
        out,
    )
    assert rc == 2 and "Traceback" not in err and not out.exists()
    assert "column 'BMI' is typed numeric by the #q2:types line but holds 'x' (line 7)" in err


def _r_write_table(frame: pd.DataFrame, path) -> None:
    """As R's write.table(frame, sep = "\t") writes it: row names without a header field."""
    lines = ["\t".join(f'"{c}"' for c in frame.columns)]
    lines += [f'"{i}"\t' + "\t".join(map(str, row)) for i, row in zip(frame.index, frame.values)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.mark.parametrize("which", ["abundances", "metadata"])
def test_r_write_table_row_names_give_the_fix(crc, fixtures_dir, tmp_path, which):
    abund, meta = crc
    path = tmp_path / "r.tsv"
    _r_write_table(abund if which == "abundances" else meta, path)
    data, obs = (path, None) if which == "abundances" else (fixtures_dir / ABUND, str(path))
    with pytest.raises(DataError, match=r"r\.tsv: malformed table .*col\.names = NA") as err:
        read_dataset(data, obs_path=obs)
    assert "\n" not in str(err.value)


def test_a_header_short_by_more_than_one_name_gets_no_r_hint(write):
    with pytest.raises(DataError, match=r"malformed table") as err:
        read_dataset(write("t.tsv", "g1\ns1\t1\t2\ns2\t3\t4\n"))
    assert "col.names" not in str(err.value)


def test_a_stray_value_in_a_taxa_by_samples_table_is_named(crc, tmp_path):
    """Read with --transpose, a '0,5' in a sample column was blamed on a missing
    --metadata-columns (a column annotating the taxa), not named."""
    abund, _ = crc
    taxa = abund.T.astype(object)
    taxa.iloc[3, 2] = "0,5"
    path = tmp_path / "taxa.tsv"
    taxa.rename_axis("clade_name").to_csv(path, sep="\t")
    pattern = (
        rf"taxa\.tsv: line 5 \(feature '{taxa.index[3]}'\), column '{taxa.columns[2]}': "
        r"'0,5' is not a number"
    )
    with pytest.raises(DataError, match=pattern):
        read_dataset(path, transpose=True)


def test_metadata_ids_in_a_later_column_are_named(crc, fixtures_dir, tmp_path):
    """curatedMetagenomicData's sample metadata has study_name first, sample_id second: the
    error said 'check the id column', which no flag can choose."""
    _, meta = crc
    path = tmp_path / "cmd.tsv"
    meta.reset_index().set_index("studyID").to_csv(path, sep="\t")
    with pytest.raises(DataError, match=r"ids are in the table's column 'sample_id'.*first col"):
        read_dataset(fixtures_dir / ABUND, obs_path=str(path))
    ds = read_dataset(fixtures_dir / ABUND, obs_path=str(path), obs_id_column="sample_id")
    assert list(ds.obs["studyID"]) == list(meta["studyID"])


@pytest.mark.parametrize(
    "comments",
    [
        ["#mpa_v30_CHOCOPhlAn_201901"],  # merge_metaphlan_tables.py
        ["#mpa_vJan21_CHOCOPhlAnSGB_202103", "#metaphlan s.fq --input_type fastq"],
    ],
)
def test_metaphlan_comment_lines_above_the_header_are_named(write, comments):
    text = "\n".join([*comments, "clade_name\tS1\tS2", "k__Bacteria|s__A\t60\t50", ""])
    pattern = rf"t\.tsv: line 1 \('{comments[0]}'\) is a comment, not the header; delete"
    with pytest.raises(DataError, match=pattern):
        read_dataset(write("t.tsv", text), transpose=True)


def test_a_metadata_join_of_taxa_as_records_names_the_orientation(crc, fixtures_dir, tmp_path):
    """A taxa x samples table read without --transpose (or a model's saved --transpose given
    a samples x taxa table) failed the join with 'add rows for them or check the id column'."""
    abund, _ = crc
    path = tmp_path / "taxa.tsv"
    abund.T.rename_axis("clade_name").to_csv(path, sep="\t")
    for data, transpose in ((path, False), (fixtures_dir / ABUND, True)):
        with pytest.raises(DataError, match=r"records are named like taxa .*--transpose"):
            read_dataset(data, transpose=transpose, obs_path=str(fixtures_dir / META))
