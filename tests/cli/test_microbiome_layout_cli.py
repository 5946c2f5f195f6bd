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
