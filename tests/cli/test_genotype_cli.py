"""Genotypes on the command line: an allele-count table with missing loci is fitted with the
genotype likelihood, and the confounding audit runs on that model (issue #6: the audit must
work on genotype models too)."""

from __future__ import annotations

import json

from biovae.cli.main import main
from tests.conftest import needs_anndata


def test_fit_and_audit_a_genotype_model(fixtures, tmp_path, capsys):
    data = str(fixtures / "ehgdp_70x30loci.tsv")
    pops = str(fixtures / "ehgdp_70x30loci_populations.tsv")
    common = ["--id-column", "individual", "--allow-missing", "--obs", pops]
    model = tmp_path / "m"
    fit = ["fit", data, *common, "--likelihood", "genotype", "--latent", "2", "--epochs", "5"]
    assert main([*fit, "--out", str(model), "--quiet"]) == 0
    config = json.loads((model / "config.json").read_text())
    assert len(config["model"]["likelihood"]["loci"]) == 30
    out = tmp_path / "audit"
    assert (
        main(["audit", str(model), data, *common, "--covariates", "region", "--out", str(out)]) == 0
    )
    report = json.loads((out / "audit.json").read_text())
    region = report["covariates"]["region"]
    assert region["chance"] == 1 / 7 and 0.0 <= region["balanced_accuracy"] <= 1.0


def test_missing_genotypes_without_the_flag_exit_2(fixtures, tmp_path, capsys):
    data = str(fixtures / "ehgdp_70x30loci.tsv")
    args = ["fit", data, "--id-column", "individual", "--likelihood", "genotype"]
    assert main([*args, "--out", str(tmp_path / "m")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--allow-missing" in err[0] and not (tmp_path / "m").exists()


def test_calls_beyond_the_ploidy_name_the_setting_that_fits_them(fixtures, tmp_path, capsys):
    data = str(fixtures / "vcf_ploidy_example_4.1.vcf")  # NA00003 is triploid (1/1/1)
    fit = ["fit", data, "--likelihood", "genotype", "--epochs", "1", "--quiet"]
    assert main([*fit, "--out", str(tmp_path / "m")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "ploidy = 3 under [model.likelihood]" in err[0]
    assert not (tmp_path / "m").exists()
    (tmp_path / "p.toml").write_text('[model.likelihood]\nname = "genotype"\nploidy = 3\n')
    assert main([*fit, "--config", str(tmp_path / "p.toml"), "--out", str(tmp_path / "m")]) == 0


def test_scores_per_observed_locus_and_split_loci_refused(fixtures, tmp_path, capsys):
    import numpy as np
    import pandas as pd

    data = fixtures / "ehgdp_70x30loci.tsv"
    common = ["--id-column", "individual", "--allow-missing"]
    model, scores = tmp_path / "m", tmp_path / "s.csv"
    fit = ["fit", str(data), *common, "--likelihood", "genotype", "--latent", "2", "--epochs", "2"]
    assert main([*fit, "--out", str(model), "--quiet"]) == 0
    assert main(["score", str(model), str(data), *common, "--out", str(scores)]) == 0
    table = pd.read_csv(scores)
    raw = pd.read_csv(data, sep="\t", dtype=str, keep_default_na=False).set_index("individual")
    loci = raw.columns.str.rsplit(".", n=1).str[0]
    observed = (raw != "").T.groupby(loci.to_numpy()).all().sum()  # loci with every allele
    ids = table["id"].astype(str)
    n_obs = observed.loc[ids].to_numpy()
    # the rate KL(q || p) is spread over all 30 loci, the log-likelihood over the observed ones
    kl = pd.Series(_rates(model, raw.replace("", "nan").to_numpy(float)), raw.index)
    kl = kl.loc[ids].to_numpy()
    expected = (table["elbo"].to_numpy() + kl) / n_obs - kl / 30
    np.testing.assert_allclose(table["elbo_per_locus"], expected, rtol=1e-5)
    assert observed.min() < 30  # some individuals have missing loci: the division matters
    shuffled = tmp_path / "shuffled.tsv"  # allele columns of each locus no longer side by side
    order = [raw.columns[0], *raw.columns[1:][::-1]]
    raw[order].reset_index().to_csv(shuffled, sep="\t", index=False)
    capsys.readouterr()
    fit[1] = str(shuffled)
    assert main([*fit, "--out", str(tmp_path / "m2")]) == 2
    err = capsys.readouterr().err.strip()
    assert "are apart" in err and "side by side" in err and not (tmp_path / "m2").exists()


def test_scores_per_locus_of_a_sparse_h5ad(tmp_path, capsys):
    needs_anndata()
    import anndata as ad
    import numpy as np
    import pandas as pd
    import scipy.sparse as sp

    rng = np.random.default_rng(0)
    x = sp.csr_matrix(rng.binomial(2, 0.2, (80, 30)).astype(np.float32))
    path = tmp_path / "g.h5ad"
    ad.AnnData(x, var=pd.DataFrame(index=[f"rs{i}" for i in range(30)])).write_h5ad(path)
    model, scores = tmp_path / "m", tmp_path / "s.csv"
    fit = ["fit", str(path), "--likelihood", "genotype", "--latent", "2", "--epochs", "1"]
    assert main([*fit, "--out", str(model), "--quiet"]) == 0
    for stream in ([], ["--stream"]):
        assert main(["score", str(model), str(path), *stream, "--out", str(scores)]) == 0
        table = pd.read_csv(scores)
        np.testing.assert_allclose(table["elbo_per_locus"], table["elbo"] / 30, rtol=1e-6)


def test_an_individual_with_no_observed_locus_gets_no_per_locus_score(fixtures, tmp_path, capsys):
    import pandas as pd

    data = fixtures / "ehgdp_70x30loci.tsv"
    raw = pd.read_csv(data, sep="\t", dtype=str, keep_default_na=False)
    raw.iloc[3, 1:] = ""  # every call of the fourth individual missing
    empty = tmp_path / "empty.tsv"
    raw.to_csv(empty, sep="\t", index=False)
    common = ["--id-column", "individual", "--allow-missing"]
    model, scores = tmp_path / "m", tmp_path / "s.csv"
    fit = ["fit", str(data), *common, "--likelihood", "genotype", "--latent", "2", "--epochs", "2"]
    assert main([*fit, "--out", str(model), "--quiet"]) == 0
    capsys.readouterr()
    assert main(["score", str(model), str(empty), *common, "--out", str(scores)]) == 0
    err = capsys.readouterr().err
    assert f"1 record(s) with no observed locus, e.g. '{raw.iloc[3, 0]}'" in err
    table = pd.read_csv(scores)
    assert table["elbo_per_locus"].isna().tolist() == [i == 3 for i in range(len(table))]


def test_new_individuals_are_scored_without_the_training_metadata(
    fixtures, tmp_path, monkeypatch, capsys
):
    """Held-out anomaly scoring: the --obs table saved with an unconditional model is not
    read again by score/embed, which use no metadata (new ids have no row in it, and its
    relative path only held in the fit's working directory)."""
    import shutil

    import pandas as pd

    for name in ("ehgdp_70x30loci.tsv", "ehgdp_70x30loci_populations.tsv"):
        shutil.copy(fixtures / name, tmp_path / name)
    monkeypatch.chdir(tmp_path)
    common = ["--id-column", "individual", "--allow-missing"]
    fit = ["fit", "ehgdp_70x30loci.tsv", *common, "--obs", "ehgdp_70x30loci_populations.tsv"]
    assert main([*fit, "--likelihood", "genotype", "--epochs", "1", "--out", "m", "--quiet"]) == 0
    raw = pd.read_csv("ehgdp_70x30loci.tsv", sep="\t", dtype=str, keep_default_na=False)
    raw["individual"] = "new_" + raw["individual"]  # individuals the metadata never named
    raw.iloc[:5].to_csv("new.tsv", sep="\t", index=False)
    assert main(["score", "m", "new.tsv", "--out", "s.csv"]) == 0
    assert pd.read_csv("s.csv")["id"].tolist() == raw["individual"][:5].tolist()
    assert main(["embed", "m", "new.tsv", "--out", "z.csv"]) == 0
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")  # the saved relative --obs path is not here
    assert main(["score", "../m", "../ehgdp_70x30loci.tsv", "--out", "s.csv"]) == 0
    assert len(pd.read_csv("s.csv")) == 70


def test_an_allele_unseen_in_training_or_a_locus_left_out_is_named(fixtures, tmp_path, capsys):
    import pandas as pd

    data = fixtures / "ehgdp_70x30loci.tsv"
    common = ["--id-column", "individual", "--allow-missing"]
    fit = ["fit", str(data), *common, "--likelihood", "genotype", "--epochs", "1", "--quiet"]
    assert main([*fit, "--out", str(tmp_path / "m")]) == 0
    raw = pd.read_csv(data, sep="\t", dtype=str, keep_default_na=False)
    raw.insert(3, "loc-1.999", "0")  # an allele no training individual carried
    cases = {
        "new_allele.tsv": (raw, "1 feature(s) not in the model, e.g. 'loc-1.999'"),
        "no_locus.tsv": (
            raw.drop(columns=[c for c in raw.columns if c.startswith("loc-2.")] + ["loc-1.999"]),
            "of its feature(s) absent, e.g. 'loc-2.",
        ),
    }
    for name, (table, named) in cases.items():
        table.to_csv(tmp_path / name, sep="\t", index=False)
        capsys.readouterr()
        out = tmp_path / f"{name}.csv"
        assert main(["score", str(tmp_path / "m"), str(tmp_path / name), "--out", str(out)]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and named in err[0] and not out.exists()


def _rates(model, x):
    """KL(q(z|x) || p(z)) per record of the saved VAE ``model`` for the dense table ``x``."""
    import torch

    from biovae import VAE

    vae = VAE.load(model).model_
    with torch.no_grad():
        qz = vae.encode(torch.as_tensor(x, dtype=torch.float32), None)
        return torch.distributions.kl_divergence(qz, vae.prior()).numpy()


def test_few_observed_calls_are_not_flagged_as_anomalous(tmp_path, capsys):
    """A low-coverage individual of the training populations: its KL, one cost per record,
    divided by its 2 observed calls instead of the 100 SNPs made it score below individuals
    of random genotypes."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    freqs = rng.beta(2, 2, (2, 100))  # two populations' allele frequencies
    train = rng.binomial(2, freqs[rng.integers(0, 2, 200)]).astype(float)
    low = rng.binomial(2, freqs[0]).astype(float)
    low[2:] = np.nan  # two calls observed
    test = np.vstack([rng.integers(0, 3, (3, 100)), low])
    for name, x in (("train", train), ("test", test)):
        table = pd.DataFrame(x, columns=[f"rs{j}" for j in range(100)]).astype("Int64")
        table.insert(0, "id", [f"{name}{i}" for i in range(len(x))])
        table.to_csv(tmp_path / f"{name}.tsv", sep="\t", index=False)
    common = ["--id-column", "id", "--allow-missing"]
    model, scores = tmp_path / "m", tmp_path / "s.csv"
    fit = ["fit", str(tmp_path / "train.tsv"), *common, "--likelihood", "genotype"]
    assert main([*fit, "--latent", "4", "--epochs", "30", "--out", str(model), "--quiet"]) == 0
    args = ["score", str(model), str(tmp_path / "test.tsv"), *common, "--samples", "10"]
    assert main([*args, "--out", str(scores)]) == 0
    per_locus = pd.read_csv(scores)["elbo_per_locus"].to_numpy()
    assert per_locus[3] > per_locus[:3].max()  # the random genotypes are the anomalies


def _mixture(a, b, sizes):
    """The diploid call of two individuals' DNA mixed: at each locus observed in both, the
    union of their alleles called as a heterozygote of one allele of each (the first of
    ``a`` and the first of ``b`` not the same), homozygous only where both are homozygous
    for one allele; missing where either is missing."""
    import numpy as np

    out, start = np.full(len(a), np.nan), 0
    for size in sizes:
        la, lb = a[start : start + size], b[start : start + size]
        if not (np.isnan(la).any() or np.isnan(lb).any()):
            union = sorted(set(np.flatnonzero(la)) | set(np.flatnonzero(lb)))
            first = int(np.flatnonzero(la)[0])
            other = [k for k in np.flatnonzero(lb) if k != first] or [
                k for k in union if k != first
            ]
            call = np.zeros(size)
            call[first] += 1
            call[other[0] if other else first] += 1
            out[start : start + size] = call
        start += size
    return out


def test_score_flags_a_mixture_of_two_individuals_by_heterozygosity(fixtures, tmp_path, capsys):
    import numpy as np
    import pandas as pd

    data = fixtures / "ehgdp_70x30loci.tsv"
    raw = pd.read_csv(data, sep="\t", index_col="individual")
    regions = pd.read_csv(fixtures / "ehgdp_70x30loci_populations.tsv", sep="\t")["region"]
    i, j = int(np.argmax(regions == "EUROPE")), int(np.argmax(regions == "AFRICA"))
    loci = raw.columns.str.rsplit(".", n=1).str[0]
    sizes = pd.Series(loci).groupby(loci, sort=False).size().to_numpy()
    x = raw.to_numpy(float)
    mixed = pd.DataFrame([_mixture(x[i], x[j], sizes)], columns=raw.columns, index=["mix"])
    table = pd.concat([raw, mixed]).astype("Int64").rename_axis("individual").reset_index()
    cohort = tmp_path / "cohort.tsv"
    table.to_csv(cohort, sep="\t", index=False)
    common = ["--id-column", "individual", "--allow-missing"]
    model, scores = tmp_path / "m", tmp_path / "s.csv"
    fit = ["fit", str(data), *common, "--likelihood", "genotype", "--latent", "2", "--epochs", "2"]
    assert main([*fit, "--out", str(model), "--quiet"]) == 0
    assert main(["score", str(model), str(cohort), *common, "--out", str(scores)]) == 0
    out = pd.read_csv(scores, keep_default_na=False).set_index("id")
    flags = out["qc_flag"]
    assert flags.loc[str(raw.index[i])] == "" and flags.loc[str(raw.index[j])] == ""
    assert flags.loc["mix"] == "heterozygosity"
    f = out["het_f"].astype(float)
    assert f.loc["mix"] < -0.2 < min(f.loc[str(raw.index[i])], f.loc[str(raw.index[j])])
    # the QC sits beside the anomaly score; the missing rate is the share of the 30 loci
    called = (raw.notna().T.groupby(loci.to_numpy()).all()).sum()
    np.testing.assert_allclose(
        out["missing_rate"].astype(float).loc[[str(k) for k in raw.index]],
        1 - called.to_numpy() / 30,
    )
    assert {"elbo", "elbo_per_locus", "observed_loci", "het_observed", "het_expected"} <= set(out)


def test_one_individual_is_judged_by_the_training_allele_frequencies(fixtures, tmp_path, capsys):
    """A model keeps its training data's allele frequencies (plink --read-freq): an
    individual scored alone gets the F it has among the training individuals, not the
    -1 its own alleles as frequencies give; a model saved without them (older) falls back
    to the scored file's frequencies, and says so."""
    import numpy as np
    import pandas as pd

    data = fixtures / "ehgdp_70x30loci.tsv"
    raw = pd.read_csv(data, sep="\t", dtype=str, keep_default_na=False)
    one = tmp_path / "one.tsv"
    raw.iloc[:1].to_csv(one, sep="\t", index=False)
    common = ["--id-column", "individual", "--allow-missing"]
    model = tmp_path / "m"
    fit = ["fit", str(data), *common, "--likelihood", "genotype", "--latent", "2", "--epochs", "1"]
    assert main([*fit, "--out", str(model), "--quiet"]) == 0
    x = raw.set_index("individual").replace("", "nan").to_numpy(float)
    loci = raw.columns[1:].str.rsplit(".", n=1).str[0].to_numpy()
    calls = np.isfinite(x).T  # each allele column's observed individuals = its locus's
    freq = np.nansum(x, 0) / (2 * calls.sum(1))
    meta = json.loads((model / "metadata.json").read_text())
    stored = meta["schema"]["context_stats"]["allele_frequencies"]
    np.testing.assert_allclose(stored, freq, rtol=1e-12)
    assert pd.Series(freq).groupby(loci).sum().round(12).eq(1).all()

    def score(folder, table, *extra):
        capsys.readouterr()
        out = tmp_path / "s.csv"
        assert main(["score", str(folder), str(table), *common, *extra, "--out", str(out)]) == 0
        return pd.read_csv(out).set_index("id")["het_f"], capsys.readouterr().err

    full, _ = score(model, data)
    alone, err = score(model, one)
    first = int(raw.iloc[0, 0])
    np.testing.assert_allclose(alone.loc[first], full.loc[first], rtol=1e-12)
    assert -0.2 < alone.loc[first] < 0.2
    assert "allele frequencies of the training data" in err
    own, err = score(model, one, "--qc-frequencies", "scored")
    assert own.loc[first] == -1.0 and "--qc-frequencies scored" in err
    assert score(model, one, "--quiet")[1] == ""
    del meta["schema"]["context_stats"]["allele_frequencies"]  # as saved before they were kept
    (model / "metadata.json").write_text(json.dumps(meta))
    (model / "SHA256SUMS").unlink()
    old, err = score(model, one)
    assert old.loc[first] == -1.0 and "saved without the training data's" in err
