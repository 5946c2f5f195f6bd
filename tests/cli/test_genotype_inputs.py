"""Genotype dosages from tables, ``.h5ad`` and ``.npy`` files: values that are not allele
counts are refused with one line naming file, record, field and the fix (exit 2, nothing
written), and missing calls (an empty field, a NaN entry with ``--allow-missing``) are read as
VCF and PLINK missing calls are, whatever the file."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from biovae.cli.main import main
from biovae.errors import DataError
from tests.conftest import needs_anndata

SNPS = [f"rs{j}" for j in range(5)]
IDS = [f"ind{i}" for i in range(24)]
FIT = ["--likelihood", "genotype", "--latent", "2", "--hidden", "8", "--epochs", "1"]


def _dosages() -> np.ndarray:
    """24 individuals x 5 SNPs of 0/1/2 calls, with one missing call, an individual with no
    call and a SNP called in nobody."""
    x = np.random.default_rng(3).binomial(2, 0.3, (24, 5)).astype(np.float32)
    x[2, 1] = np.nan
    x[5, :] = np.nan
    x[:, 3] = np.nan
    return x


def _write(x: np.ndarray, path, kind: str) -> str:
    """``x`` as a TSV (NaN as empty fields), an ``.h5ad`` or an ``.npy`` file."""
    if kind == "tsv":
        pd.DataFrame(x, index=pd.Index(IDS, name="id"), columns=SNPS).to_csv(
            path, sep="\t", na_rep="", float_format="%g"
        )
    elif kind == "h5ad":
        import anndata as ad

        obs, var = pd.DataFrame(index=IDS), pd.DataFrame(index=SNPS)
        ad.AnnData(x, obs=obs, var=var).write_h5ad(path)
    else:
        np.save(path, x)
    return str(path)


@pytest.mark.parametrize("kind", ["h5ad", "npy"])
def test_nan_in_h5ad_and_npy_are_missing_calls_with_allow_missing(kind, tmp_path, capsys):
    if kind == "h5ad":
        needs_anndata()
    x = _dosages()
    data = _write(x, tmp_path / f"g.{kind}", kind)
    model = tmp_path / "m"
    assert main(["fit", data, *FIT, "--allow-missing", "--out", str(model), "--quiet"]) == 0
    config = json.loads((model / "config.json").read_text())
    assert config["model"]["likelihood"]["missing_indicators"] is True  # as a VCF's dosages
    meta = json.loads((model / "metadata.json").read_text())
    freq = meta["schema"]["context_stats"]["allele_frequencies"]
    # ground truth: each SNP's counted-allele copies over 2 x its called individuals
    truth = [np.nansum(x[:, j]) / (2 * np.sum(~np.isnan(x[:, j]))) for j in (0, 1, 2, 4)]
    np.testing.assert_allclose([freq[j] for j in (0, 1, 2, 4)], truth, rtol=1e-12)
    assert freq[3] is None  # a SNP nobody was called at
    # the saved option reads the same file's NaN as missing calls when scored
    scores = tmp_path / "s.tsv"
    assert main(["score", str(model), data, "--out", str(scores), "--quiet"]) == 0
    table = pd.read_csv(scores, sep="\t")
    assert table["observed_loci"].tolist()[:6] == [4, 4, 3, 4, 4, 0]
    assert np.isnan(table["elbo_per_locus"][5]) and np.isfinite(table["elbo"]).all()


def test_a_table_model_scores_an_h5ad_with_missing_calls(tmp_path, capsys):
    needs_anndata()
    x = _dosages()
    table, h5ad = _write(x, tmp_path / "g.tsv", "tsv"), _write(x, tmp_path / "g.h5ad", "h5ad")
    model = tmp_path / "m"
    assert main(["fit", table, *FIT, "--allow-missing", "--out", str(model), "--quiet"]) == 0
    a, b = tmp_path / "a.tsv", tmp_path / "b.tsv"
    assert main(["score", str(model), table, "--out", str(a), "--quiet"]) == 0
    assert main(["score", str(model), h5ad, "--out", str(b), "--quiet"]) == 0
    cols = ["observed_loci", "missing_rate", "het_f"]
    pd.testing.assert_frame_equal(pd.read_csv(a, sep="\t")[cols], pd.read_csv(b, sep="\t")[cols])


@pytest.mark.parametrize(
    ("value", "clause"),
    [
        (3.0, "set ploidy = 3"),
        (-1.0, "missing-call code"),
        (0.5, "imputed dosage"),
        (1.7, "imputed dosage"),
    ],
)
@pytest.mark.parametrize("kind", ["tsv", "h5ad"])
def test_a_value_that_is_no_allele_count_exits_2_naming_where(
    kind, value, clause, tmp_path, capsys
):
    if kind == "h5ad":
        needs_anndata()
    x = _dosages()
    x[7, 2] = value
    data = _write(x, tmp_path / f"g.{kind}", kind)
    model = tmp_path / "m"
    assert main(["fit", data, *FIT, "--allow-missing", "--out", str(model), "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and not model.exists()
    for part in (data, "record 'ind7'", "feature 'rs2'", f"value {value:g}", "0..2", clause):
        assert part in err[0]


@pytest.mark.parametrize("command", ["score", "embed"])
def test_score_and_embed_refuse_an_imputed_dosage_and_write_nothing(command, tmp_path, capsys):
    x = _dosages()
    good, model = _write(x, tmp_path / "g.tsv", "tsv"), tmp_path / "m"
    assert main(["fit", good, *FIT, "--allow-missing", "--out", str(model), "--quiet"]) == 0
    x[4, 0] = 1.7
    bad, out = _write(x, tmp_path / "bad.tsv", "tsv"), tmp_path / "out.tsv"
    capsys.readouterr()
    assert main([command, str(model), bad, "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "record 'ind4', feature 'rs0'" in err[0]
    assert "imputed dosage" in err[0] and not out.exists()


def test_the_estimator_refuses_an_imputed_dosage_in_anndata():
    needs_anndata()
    import anndata as ad

    from biovae.estimator import VAE

    x = _dosages()
    x[9, 4] = 1.7
    adata = ad.AnnData(x, obs=pd.DataFrame(index=IDS), var=pd.DataFrame(index=SNPS))
    with pytest.raises(DataError, match=r"record 'ind9', feature 'rs4'.*imputed dosage"):
        VAE(likelihood="genotype", epochs=1).fit(adata)
