"""A taxa x samples table read the wrong way round is refused by the compositional
likelihoods (exit 2, one line, nothing written) instead of fitting each taxon as a sample."""

from __future__ import annotations

import pandas as pd
import pytest

from tests.cli.test_cli import run

FAST = ["--epochs", "1", "--hidden", "8", "--latent", "2", "--quiet"]


@pytest.fixture
def counts(fixtures):
    """The CRC fixture as read counts, samples x taxa, taxa named by their lineage."""
    abund = pd.read_csv(fixtures / "crc_abundance_60x50.tsv", sep="\t", index_col=0)
    counts = (abund * 1e4).round().astype(int)
    counts.columns = [f"k__Bacteria|{c}" for c in counts.columns]
    return counts


@pytest.mark.parametrize(
    ("likelihood", "taxa_as_rows", "flags"),
    [
        ("dirichlet_multinomial", True, []),  # counts: fitted silently, taxa as samples
        ("dirichlet_multinomial", False, ["--transpose"]),
        ("hurdle_dirichlet", True, []),  # proportions: blamed on percentages
    ],
)
def test_taxa_as_records_are_refused(counts, tmp_path, capsys, likelihood, taxa_as_rows, flags):
    table = counts / 1e4 if likelihood == "hurdle_dirichlet" else counts
    table = table.T.rename_axis("clade_name") if taxa_as_rows else table
    path, out = tmp_path / "t.tsv", tmp_path / "m"
    table.to_csv(path, sep="\t")
    rc, stdout, err = run(
        capsys, "fit", path, "--likelihood", likelihood, *flags, "--out", out, *FAST
    )
    assert rc == 2 and len(err.strip().splitlines()) == 1, err
    assert "records are named like taxa (e.g. 'k__Bacteria|s__" in err and "--transpose" in err
    assert not out.exists() and stdout == ""


def test_the_same_tables_the_right_way_round_fit(counts, tmp_path, capsys):
    path = tmp_path / "t.tsv"
    counts.T.rename_axis("clade_name").to_csv(path, sep="\t")
    for i, flags in enumerate(
        (["--likelihood", "dirichlet_multinomial", "--transpose"], ["--likelihood", "gaussian"])
    ):  # gaussian: no composition of taxa, no such check
        rc, _, err = run(capsys, "fit", path, *flags, "--out", tmp_path / f"m{i}", *FAST)
        assert rc == 0 and (tmp_path / f"m{i}" / "config.json").exists(), err


def _qiime_table(tmp_path, header: str):
    """A feature table as `biom convert --to-tsv --header-key taxonomy` writes it (comment
    line deleted): OTU hashes as rows, samples as columns, a taxonomy column last."""
    lines = [f"{header}\tS1\tS2\tS3\ttaxonomy"]
    for i, row in enumerate([(5, 0, 9), (1, 7, 2), (0, 3, 4), (8, 8, 0)]):
        otu = f"{i}f3a9c2e51b7d04a6e8c1f2b3a4d5e6{i}"  # an ASV/OTU hash: no taxon prefix
        lines.append(f"{otu}\t" + "\t".join(map(str, row)) + "\tk__Bacteria; p__Firmicutes")
    path = tmp_path / "feature-table.tsv"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize("header", ["#OTU ID", "Feature ID", "feature-id"])
@pytest.mark.parametrize("likelihood", ["dirichlet_multinomial", "gaussian"])
def test_a_qiime_feature_table_is_not_read_as_samples(tmp_path, capsys, header, likelihood):
    """Headed '#OTU ID' (an id column), its OTU hashes were read as 4 records of 3 + 1
    metadata columns and fitted without a word: no name looks like a taxon to object."""
    path, out = _qiime_table(tmp_path, header), tmp_path / "m"
    rc, stdout, err = run(capsys, "fit", path, "--likelihood", likelihood, "--out", out, *FAST)
    assert rc == 2 and len(err.strip().splitlines()) == 1, err
    assert f"feature-table.tsv: the first column, '{header}', names taxa" in err
    assert "--transpose" in err and not out.exists() and stdout == ""
    flags = ["--transpose", "--metadata-columns", "taxonomy"]
    rc, _, err = run(capsys, "fit", path, "--likelihood", likelihood, *flags, "--out", out, *FAST)
    assert rc == 0 and (out / "config.json").exists(), err


def test_a_qiime_artifact_is_refused_with_the_export_command(tmp_path, capsys):
    path, out = tmp_path / "table.qza", tmp_path / "m"
    path.write_bytes(b"PK\x03\x04")  # a .qza is a zip archive
    rc, stdout, err = run(capsys, "fit", path, "--out", out, *FAST)
    assert rc == 2 and len(err.strip().splitlines()) == 1, err
    assert "table.qza: a QIIME 2 artifact" in err and "qiime tools export" in err
    assert not out.exists() and stdout == ""
