"""Generation's limits: seeds the random generators cannot take and draws too large for memory
are one-line errors (exit 2, nothing written), for every command that samples a prior; and
decoding random codes of a model without a prior (the autoencoder) says what they are."""

from __future__ import annotations

import pytest

from biovae.cli.main import main
from tests.cli._run import run
from tests.conftest import FIXTURES

FAST = ["--epochs", "1", "--hidden", "8", "--latent", "2", "--quiet"]
BAD_SEEDS = (-1, 2**63, 2**64)


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """A table VAE, a PCA and a VAE conditional on a covariate, with their data."""
    tmp = tmp_path_factory.mktemp("limits")
    data = FIXTURES / "splice_junctions_200.tsv"
    base = ["fit", str(data), "--sequence-column", "sequence", *FAST]
    assert main([*base, "--out", str(tmp / "vae")]) == 0
    assert main([*base, "--categorical-covariates", "class", "--out", str(tmp / "cond")]) == 0
    table = FIXTURES / "crc_abundance_60x50.tsv"
    assert (
        main(
            [
                "fit",
                str(table),
                "--model",
                "pca",
                "--latent",
                "2",
                "--quiet",
                "--out",
                str(tmp / "pca"),
            ]
        )
        == 0
    )
    return tmp, data, table


@pytest.mark.parametrize("seed", BAD_SEEDS)
def test_sample_refuses_a_seed_out_of_range(models, tmp_path, capsys, seed):
    """--seed 2**64 was a ValueError traceback from torch; -1 was taken silently."""
    tmp, _, _ = models
    for model, out in ((tmp / "vae", tmp_path / "s.fasta"), (tmp / "pca", tmp_path / "s.tsv")):
        rc, _, err = run(capsys, "sample", model, "-n", "2", "--seed", seed, "--out", out)
        assert rc == 2 and len(err.strip().splitlines()) == 1, err
        assert "seed" in err and "2**63" in err and not out.exists()


def test_novelty_of_a_conditional_model_refuses_a_negative_seed(models, tmp_path, capsys):
    """The covariates drawn for the samples came from numpy's generator: a traceback."""
    tmp, data, _ = models
    out = tmp_path / "nov"
    rc, _, err = run(capsys, "novelty", tmp / "cond", data, data, "-n", "5", "--seed", "-3",
                     "--out", out, "--sequence-column", "sequence")  # fmt: skip
    assert rc == 2 and len(err.strip().splitlines()) == 1, err
    assert "seed" in err and not out.exists()


def test_sample_api_refuses_a_seed_out_of_range(models):
    from biovae.errors import ConfigError
    from biovae.estimator import load_model

    tmp, _, _ = models
    for name in ("vae", "pca"):
        with pytest.raises(ConfigError, match="seed"):
            load_model(tmp / name).sample(2, seed=2**64)


def test_structure_sample_refuses_huge_draws_and_bad_seeds(tmp_path, capsys):
    """-n 10**11 was an allocation failure (RuntimeError traceback) and --seed 2**64 a
    ValueError traceback."""
    pytest.importorskip("MDAnalysis", reason="needs the structure extra (MDAnalysis)")
    pdb, model = FIXTURES / "ubiquitin_2k39_ca_12.pdb", tmp_path / "m"
    assert main(["structure", "fit", str(pdb), "--out", str(model), *FAST]) == 0
    capsys.readouterr()  # the fit's own stderr (its short fit is warned of collapse)
    out = tmp_path / "s.pdb"
    # -n beyond a PDB file's 9999 models is refused before any draw (it decoded them all first)
    for extra, why in (
        (["-n", 10**11], "at most 9999 models"),
        (["-n", 2, "--seed", 2**64], "2**63"),
    ):
        rc, _, err = run(capsys, "structure", "sample", model, *extra, "--out", out)
        assert rc == 2 and why in err and len(err.strip().splitlines()) == 1, err
        assert not out.exists()
    from biovae.errors import ConfigError
    from biovae.structure_estimator import ConformationVAE

    with pytest.raises(ConfigError, match="memory"):  # the Python API writes no PDB
        ConformationVAE.load(model).sample_latent(10**11)


def test_sampling_an_autoencoder_warns_that_it_has_no_prior(models, tmp_path, capsys):
    """Its model card says records decoded from random codes are not samples of a model of the
    data, but 'biovae sample' wrote them without a word."""
    tmp, _, table = models
    model, out = tmp_path / "ae", tmp_path / "s.tsv"
    assert main(["fit", str(table), "--model", "ae", "--out", str(model), *FAST]) == 0
    rc, _, err = run(capsys, "sample", model, "-n", "3", "--out", out)
    assert rc == 0 and out.exists()
    assert err.startswith("biovae: warning:") and "no prior" in err and "--model vae" in err
    rc, _, err = run(capsys, "sample", tmp / "pca", "-n", "3", "--out", tmp_path / "p.tsv")
    assert rc == 0 and "warning" not in err  # probabilistic PCA has a prior
