"""The ``biovae`` command end to end on small real fixtures, and every bad-input path:
one line on stderr naming the problem, exit status 2, and nothing written."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from biovae.cli.main import main
from biovae.errors import DataError, MissingFileError
from tests.cli._run import run
from tests.conftest import needs_anndata

FAST = ["--epochs", "3", "--hidden", "16", "--latent", "3", "--quiet"]


@pytest.fixture(scope="module")
def cellbench_model(tmp_path_factory):
    needs_anndata()
    from tests.conftest import FIXTURES

    out = tmp_path_factory.mktemp("cb") / "model"
    rc = main(
        [
            "fit",
            str(FIXTURES / "cellbench_100x200.h5ad"),
            "--likelihood",
            "nb",
            "--out",
            str(out),
            *FAST,
        ]
    )
    assert rc == 0
    return out


def test_fit_embed_sample_score_on_counts(cellbench_model, fixtures, tmp_path, capsys):
    data = fixtures / "cellbench_100x200.h5ad"
    rc, _, _ = run(capsys, "embed", cellbench_model, data, "--out", tmp_path / "z.csv")
    assert rc == 0
    z = pd.read_csv(tmp_path / "z.csv")
    assert list(z.columns) == ["id", "z_1", "z_2", "z_3"] and len(z) == 100
    rc, _, _ = run(capsys, "sample", cellbench_model, "-n", 5, "--out", tmp_path / "s.tsv")
    s = pd.read_csv(tmp_path / "s.tsv", sep="\t")
    assert rc == 0 and s.shape == (5, 201)
    values = s.iloc[:, 1:].to_numpy()
    assert (values >= 0).all() and np.array_equal(values, np.round(values))
    body = (tmp_path / "s.tsv").read_text().split("\n", 1)[1]
    assert body.count("\t") == 5 * 200 and "." not in body  # counts as integers: 10, not 10.0
    rc, _, err = run(capsys, "sample", cellbench_model, "-n", 2, "--out", tmp_path / "g.fasta")
    assert rc == 2 and "samples are a table, not sequences" in err
    assert len(err.strip().splitlines()) == 1 and not (tmp_path / "g.fasta").exists()
    rc, _, err = run(
        capsys, "score", cellbench_model, data, "--iwae", 20, "--out", tmp_path / "sc.csv"
    )
    sc = pd.read_csv(tmp_path / "sc.csv")
    assert rc == 0 and list(sc.columns) == ["id", "elbo", "iwae_20"]
    assert "IWAE-20 of 100 records (20 draws of each)" in err  # minutes on 10^5: not in silence
    assert (sc["elbo"] < 0).all()
    assert sc["iwae_20"].mean() >= sc["elbo"].mean() - 1.0


def test_sequences_fit_and_sample_fasta(fixtures, tmp_path, capsys):
    rc, _, _ = run(
        capsys,
        "fit",
        fixtures / "splice_junctions_200.tsv",
        "--sequence-column",
        "sequence",
        "--likelihood",
        "categorical",
        "--out",
        tmp_path / "m",
        *FAST,
    )
    assert rc == 0
    rc, _, _ = run(capsys, "sample", tmp_path / "m", "-n", 3, "--out", tmp_path / "s.fasta")
    lines = (tmp_path / "s.fasta").read_text().split()
    assert rc == 0 and lines[0] == ">sample_1" and len(lines[1]) == 60
    assert set("".join(lines[1::2])) <= set("ACGT-")


def test_sequences_default_to_the_categorical_likelihood(fixtures, tmp_path, capsys):
    a2m = fixtures / "blat_ecolx_first40.a2m"
    rc, _, err = run(capsys, "fit", a2m, "--out", tmp_path / "m", *FAST)
    assert rc == 0, err
    config = (tmp_path / "m" / "config.json").read_text()
    assert '"name": "categorical"' in config
    toml = tmp_path / "c.toml"
    toml.write_text('[model.likelihood]\nname = "gaussian"\n')  # chosen, so refused
    rc, _, err = run(capsys, "fit", a2m, "--config", toml, "--out", tmp_path / "g", *FAST)
    assert rc == 2 and "--likelihood categorical" in err and not (tmp_path / "g").exists()


def test_fit_from_toml_config_and_resume(fixtures, tmp_path, capsys):
    cfg = tmp_path / "c.toml"
    cfg.write_text(
        "[model]\nn_latent = 2\n[model.network]\nhidden = [8]\n"
        "[train]\nepochs = 4\ncheckpoint_every = 2\n"
    )
    data = fixtures / "crc_abundance_60x50.tsv"
    # simulate an interrupted run: first two epochs, checkpoint kept
    rc, _, _ = run(
        capsys, "fit", data, "--config", cfg, "--epochs", 2, "--out", tmp_path / "m", "--quiet"
    )
    assert rc == 0
    assert not (tmp_path / "m.checkpoint").exists()  # removed after a successful fit
    rc, _, err = run(capsys, "fit", data, "--config", cfg, "--out", tmp_path / "m2", "--resume")
    assert rc == 2 and "no checkpoint" in err


def test_pca_and_autoencoder_models(fixtures, tmp_path, capsys):
    data = fixtures / "crc_abundance_60x50.tsv"
    for kind in ("pca", "ae"):
        flags = ["--latent", "3", "--quiet"] if kind == "pca" else FAST  # PCA trains nothing
        rc, _, _ = run(capsys, "fit", data, "--model", kind, "--out", tmp_path / kind, *flags)
        assert rc == 0
        rc, _, _ = run(capsys, "embed", tmp_path / kind, data, "--out", tmp_path / f"{kind}.tsv")
        assert rc == 0 and len(pd.read_csv(tmp_path / f"{kind}.tsv", sep="\t")) == 60
        # no posterior to draw from: an IWAE column would repeat the score under a false name
        scores = tmp_path / f"{kind}_scores.csv"
        rc, _, err = run(capsys, "score", tmp_path / kind, data, "--iwae", 5, "--out", scores)
        assert rc == 2 and "--iwae needs a VAE" in err and not scores.exists()


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


BAD_INPUTS = {
    "missing file": (lambda d: d / "nope.tsv", [], "not found"),
    "empty file": (lambda d: _write(d / "e.tsv", ""), [], "empty"),
    "wrong column": (
        lambda d: _write(d / "t.tsv", "id\ta\tb\nr1\t1\t2\nr2\t3\t4\n"),
        ["--id-column", "sample"],
        "sample",
    ),
    "NaN value": (lambda d: _write(d / "n.tsv", "id\ta\tb\nr1\t1\t\nr2\t3\t4\n"), [], "r1"),
    "negative counts": (
        lambda d: _write(d / "c.tsv", "id\ta\tb\nr1\t1\t2\nr2\t-3\t4\n"),
        ["--likelihood", "nb"],
        "negative",
    ),
    "ragged sequences": (
        lambda d: _write(d / "s.fa", ">a\nACGT\n>b\nACG\n"),
        ["--likelihood", "categorical"],
        "ragged",
    ),
    "unknown letter": (
        lambda d: _write(d / "u.fa", ">a\nACGT\n>b\nACJT\n"),
        ["--likelihood", "categorical"],
        "J",
    ),
    "sequences under a numeric likelihood": (
        lambda d: _write(d / "g.fa", ">a\nACGT\n>b\nACGA\n"),
        ["--likelihood", "gaussian"],  # it would read the letter codes A=0 .. T=3 as numbers
        "--likelihood categorical",
    ),
    "unknown likelihood": (
        lambda d: _write(d / "t.tsv", "id\ta\nr1\t1\n"),
        ["--likelihood", "gamma"],
        "unknown likelihood",
    ),
    "config typo": (
        lambda d: _write(d / "t.tsv", "id\ta\nr1\t1\n"),
        ["--config", "CFG"],
        "unknown key config.train.epocs",
    ),
    "TOML not UTF-8": (
        lambda d: _write(d / "t.tsv", "id\ta\nr1\t1\n"),
        ["--config", "BINCFG"],
        "not valid TOML",
    ),
    "number beyond float64": (
        lambda d: _write(d / "t.tsv", "id\ta\tb\nr1\t1\t2\nr2\t1e400\t4\n"),
        [],
        "non-finite value inf",
    ),
    "bad report path": (
        lambda d: _write(d / "t.tsv", "id\ta\nr1\t1\n"),
        ["--report", "/nonexistent-dir/r.html"],
        "does not exist",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_gives_one_line_exit_2_and_no_output(case, tmp_path, capsys):
    make, extra, expected = BAD_INPUTS[case]
    data = make(tmp_path)
    cfg = _write(tmp_path / "typo.toml", "[train]\nepocs = 3\n")
    (tmp_path / "bin.toml").write_bytes(b"\xff\xfe[model]\n")
    named = {"CFG": str(cfg), "BINCFG": str(tmp_path / "bin.toml")}
    extra = [named.get(e, e) for e in extra]
    out = tmp_path / "model"
    rc, stdout, err = run(capsys, "fit", data, "--out", out, "--quiet", *extra)
    assert rc == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("biovae fit: error:"), err
    assert expected in lines[0]
    assert "Traceback" not in err and stdout == ""
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".model")]


def test_embed_with_missing_model_folder(tmp_path, capsys, fixtures):
    rc, _, err = run(
        capsys,
        "embed",
        tmp_path / "none",
        fixtures / "crc_abundance_60x50.tsv",
        "--out",
        tmp_path / "z.csv",
    )
    assert rc == 2 and "not a biovae model folder" in err
    assert not (tmp_path / "z.csv").exists()


def test_output_with_unsupported_extension(cellbench_model, fixtures, tmp_path, capsys):
    rc, _, err = run(
        capsys,
        "embed",
        cellbench_model,
        fixtures / "cellbench_100x200.h5ad",
        "--out",
        tmp_path / "z.xlsx",
    )
    assert rc == 2 and ".csv" in err and not (tmp_path / "z.xlsx").exists()
    (tmp_path / "dd.tsv").mkdir()  # a folder where the output file should go
    rc, _, err = run(capsys, "sample", cellbench_model, "-n", 2, "--out", tmp_path / "dd.tsv")
    assert rc == 2 and "dd.tsv: it is an existing folder" in err
    assert len(err.strip().splitlines()) == 1 and sorted(tmp_path.iterdir()) == [
        tmp_path / "dd.tsv"
    ]


def test_installed_entry_point_exit_status(tmp_path):
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "biovae",
            "fit",
            str(tmp_path / "x.tsv"),
            "--out",
            str(tmp_path / "m"),
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1
    help_ = subprocess.run(
        [sys.executable, "-m", "biovae", "fit", "--help"], capture_output=True, text=True
    )
    assert help_.returncode == 0 and "examples:" in help_.stdout


def test_repeated_and_id_named_features_keep_every_column(tmp_path, capsys):
    rng = np.random.default_rng(0)
    values = rng.poisson(3.0, size=(4, 30))  # genes x samples, read with --transpose
    header = "\ufeffgene\t" + "\t".join(f"r{i}" for i in range(30)) + "\n"  # with a BOM
    table = header + "".join(  # a feature named id, g twice
        f"{name}\t" + "\t".join(map(str, row)) + "\n"
        for name, row in zip(["id", "g", "g", "h"], values)
    )
    data = _write(tmp_path / "t.tsv", table)
    fit = ["fit", data, "--transpose", "--likelihood", "poisson", "--out", tmp_path / "m"]
    rc, _, err = run(capsys, *fit, *FAST)
    assert rc == 0 and "biovae: warning: " in err and "later copies renamed g-1" in err
    rc, _, _ = run(capsys, "sample", tmp_path / "m", "-n", 3, "--out", tmp_path / "s.tsv")
    s = pd.read_csv(tmp_path / "s.tsv", sep="\t")
    assert rc == 0 and list(s.columns) == ["sample_id", "id", "g", "g-1", "h"]
    rc, _, err = run(capsys, "sweep", data, "--beta", "1,abc", "--out", tmp_path / "sw")
    assert rc == 2 and "--beta needs" in err and not (tmp_path / "sw").exists()


def test_damaged_or_foreign_model_folders_are_one_line_errors(
    cellbench_model, fixtures, tmp_path, capsys
):
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(cellbench_model, broken)
    (broken / "weights.safetensors").write_bytes(b"\x00" * 100)
    data = fixtures / "cellbench_100x200.h5ad"
    rc, _, err = run(capsys, "embed", broken, data, "--out", tmp_path / "z.csv")
    assert rc == 2 and "damaged weights file" in err and len(err.strip().splitlines()) == 1
    (broken / "SHA256SUMS").unlink()  # as saved before it was kept: the JSON is read
    (broken / "metadata.json").write_text("[]")
    rc, _, err = run(capsys, "embed", broken, data, "--out", tmp_path / "z.csv")
    assert rc == 2 and "not a JSON object" in err and not (tmp_path / "z.csv").exists()
    rc, _, err = run(capsys, "variants", "scan", cellbench_model, "--out", tmp_path / "s.csv")
    assert rc == 2 and "holds no variants model" in err


def test_drop_invalid_says_how_many_records_it_dropped(tmp_path, capsys):
    data = _write(tmp_path / "s.fa", ">a\nACGTACGT\n>b\nACGNACGT\n>c\nACGTTCGT\n>d\nACGTACGA\n")
    args = ["--likelihood", "categorical", "--drop-invalid", "--out", tmp_path / "m", *FAST]
    rc, _, err = run(capsys, "fit", data, *args)
    assert rc == 0 and "1 of 4 records dropped for letters outside the alphabet 'ACGT-'" in err


@pytest.mark.parametrize(
    "command", ["embed", "score", "report", "diagnose", "de", "trajectory", "map", "audit"]
)
@pytest.mark.parametrize(
    "flag",
    [
        "--batch-key",
        "--categorical-covariates",
        "--continuous-covariates",
        "--labels-key",
        "--unlabeled-category",
    ],
)
def test_commands_on_a_fitted_model_take_no_covariate_options(command, flag, capsys):
    # the model's covariates were fixed when it was fitted: such a flag had no effect at all
    required = {"de": ["--groupby", "g"], "audit": ["--covariates", "c"]}.get(command, [])
    with pytest.raises(SystemExit) as exc:
        main([command, "m", "data.tsv", *required, "--out", "x", flag, "batch"])
    assert exc.value.code == 2 and f"unrecognized arguments: {flag}" in capsys.readouterr().err


def test_novelty_takes_no_covariate_options(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["novelty", "m", "t.tsv", "h.tsv", "--out", "x", "--batch-key", "batch"])
    assert exc.value.code == 2 and "unrecognized arguments" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["fit", "sweep"])
def test_likelihood_help_lists_every_registered_likelihood(command, capsys):
    from biovae.likelihoods import available

    with pytest.raises(SystemExit):
        main([command, "--help"])
    text = " ".join(capsys.readouterr().out.split())
    listed = text.split("p(x|z) family: ")[1].split(" (default")[0]
    assert listed.split(", ") == list(available())


def test_top_level_examples_chain_models_of_the_right_kind():
    from biovae.cli.parser import EPILOG

    lines = [line.split("#")[0].split() for line in EPILOG.splitlines()[1:] if line.strip()]
    made = {line[line.index("--out") + 1]: line for line in lines if "--out" in line}
    for line in lines:
        if line[1] == "sample":  # sample refuses variants models: its model comes from fit
            assert made[line[2]][1] == "fit", line
        if line[1] == "fit" and line[2].endswith(".a2m"):  # real families hold odd letters
            assert "--drop-invalid" in line


@pytest.mark.parametrize(
    ("kind", "flag", "why"),
    [
        ("pca", ["--epochs", "5"], "fitted in closed form"),
        ("pca", ["--decoder", "linear"], "fitted in closed form"),
        ("pca", ["--variance", "fixed"], "fitted in closed form"),
        ("pca", ["--categorical-covariates", "x"], "without covariates"),
        ("ae", ["--beta", "4"], "no KL term"),
        ("ae", ["--free-bits", "1"], "no KL term"),
        ("vae", ["--unlabeled-category", "unknown"], "it has no labels"),
        ("vae", ["--classification-weight", "5"], "it has no labels"),
        ("ae", ["--classifier-input", "x"], "it has no labels"),
    ],
)
def test_flags_a_model_kind_would_ignore_are_refused(fixtures, tmp_path, capsys, kind, flag, why):
    data = fixtures / "crc_abundance_60x50.tsv"
    out = tmp_path / "m"
    rc, _, err = run(capsys, "fit", data, "--model", kind, *flag, "--out", out, "--quiet")
    assert rc == 2 and f"{flag[0]} has no effect on --model {kind}" in err and why in err
    assert len(err.strip().splitlines()) == 1 and not out.exists()


def test_report_colouring_and_sample_covariates_need_what_they_act_on(
    cellbench_model, fixtures, tmp_path, capsys
):
    html, samples = tmp_path / "r.html", tmp_path / "s.tsv"
    rc, _, err = run(capsys, "report", cellbench_model, "--color-by", "batch", "--out", html)
    assert rc == 2 and "--color-by colours the map of DATA" in err and not html.exists()
    obs = _write(tmp_path / "obs.tsv", "id\tbatch\na\tx\nb\ty\n")
    rc, _, err = run(capsys, "sample", cellbench_model, "-n", "2", "--obs", obs, "--out", samples)
    assert rc == 2 and "is not conditional on any; leave --obs out" in err
    assert not samples.exists()


@pytest.mark.parametrize(
    ("exc", "said"),
    [
        (PermissionError(13, "Permission denied", "z.csv"), "(rank 1): error: z.csv: permission"),
        (DataError("z.txt: not a table"), ""),  # an input error: rank 0 says it
        # a missing input file may be missing on this node only: this rank says so
        (MissingFileError("absent.h5ad: file not found"), "(rank 1): error: absent.h5ad: file"),
    ],
)
def test_a_file_error_is_named_by_every_rank(exc, said, tmp_path, capsys, monkeypatch):
    # an input error is the same on every rank (rank 0 says it); a file error may be one
    # node's own, so a non-zero rank says it too, naming its rank
    from biovae.cli.main import _run

    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")

    def fails(_):
        raise exc

    args = argparse.Namespace(command="fit", func=fails, out=str(tmp_path / "m"))
    assert _run(args) == 2
    err = capsys.readouterr().err
    assert said in err if said else err == ""


def test_commands_that_do_not_run_distributed_are_refused_under_torchrun(
    cellbench_model, fixtures, tmp_path, capsys, monkeypatch
):
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "0")
    data = fixtures / "cellbench_100x200.h5ad"
    rc, _, err = run(capsys, "embed", cellbench_model, data, "--out", tmp_path / "z.csv")
    assert rc == 2 and "'biovae embed' runs in one process" in err
    assert "only 'biovae fit' trains on several processes" in err
    assert not (tmp_path / "z.csv").exists()


@pytest.mark.parametrize("command", [["demo"], ["map", "ref", "query.h5ad"]])
def test_epochs_below_one_are_refused_by_the_flag_name(command, tmp_path, capsys):
    rc, _, err = run(capsys, *command, "--epochs", "0", "--out", tmp_path / "o")
    assert rc == 2 and "argument --epochs: must be >= 1, got 0" in err
    assert not (tmp_path / "o").exists()
