"""``biovae diagnose`` and ``biovae sweep`` end to end on small real fixtures."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest

import biovae
from biovae.cli.main import main
from biovae.diagnose import DiagnoseOptions, diagnose, fidelity_comparison, sweep
from biovae.errors import ConfigError, DataError
from biovae.estimator import load_model
from tests.cli._run import run, small_table
from tests.conftest import needs_anndata

FAST = ["--hidden", "16", "--latent", "3", "--quiet"]


def test_diagnose_writes_json_and_html(fixtures, tmp_path, capsys):
    needs_anndata()
    data = fixtures / "cellbench_100x200.h5ad"
    assert (
        main(
            [
                "fit",
                str(data),
                "--likelihood",
                "nb",
                "--epochs",
                "5",
                "--out",
                str(tmp_path / "m"),
                *FAST,
            ]
        )
        == 0
    )
    rc = main(
        [
            "diagnose",
            str(tmp_path / "m"),
            str(data),
            "--out",
            str(tmp_path / "d"),
            "--iwae",
            "50",
            "--gap-records",
            "20",
            "--gap-steps",
            "50",
        ]
    )
    assert rc == 0
    res = json.loads((tmp_path / "d" / "diagnostics.json").read_text())
    assert set(res) >= {"rate_distortion", "collapse", "log_likelihood", "amortization"}
    assert res["collapse"]["n_latent"] == 3
    gap = res["amortization"]
    assert gap["refined_elbo"] >= gap["amortized_elbo"] - 3 * gap["amortization_gap_se"]
    page = (tmp_path / "d" / "diagnostics.html").read_text()
    assert len(page) > 10_000
    # headed by names without folders (was "Diagnostics of /tmp/.../m"), the full paths below
    title = "Diagnostics of model m: cellbench_100x200.h5ad"
    assert f"<title>{title}</title>" in page and f"<h1>{title}</h1>" in page
    assert f"<td>{tmp_path / 'm'}</td>" in page and f"<td>{data}</td>" in page
    capsys.readouterr()


def test_sweep_draws_rate_distortion_and_fidelity(fixtures, tmp_path, capsys):
    data = fixtures / "crc_abundance_60x50.tsv"
    rc = main(
        [
            "sweep",
            str(data),
            "--beta",
            "0.1,10",
            "--epochs",
            "20",
            "--fidelity",
            "--out",
            str(tmp_path / "rd"),
            *FAST[:-1],  # not --quiet: the per-β summary is checked below
        ]
    )
    assert rc == 0
    res = json.loads((tmp_path / "rd" / "sweep.json").read_text())
    low, high = res["sweep"]
    assert low["beta"] == 0.1 and high["beta"] == 10.0
    assert high["rate"] < low["rate"] and high["distortion"] > low["distortion"]
    assert set(res["fidelity"]) == {"VAE", "autoencoder", "PCA"}
    assert "β=0.1" in capsys.readouterr().err
    page = (tmp_path / "rd" / "sweep.html").read_text()
    title = "Rate–distortion sweep of crc_abundance_60x50.tsv"  # was the data's full path
    assert f"<title>{title}</title>" in page and f"<h1>{title}</h1>" in page


def test_sweep_rejects_bad_beta_list(fixtures, tmp_path, capsys):
    rc = main(
        [
            "sweep",
            str(fixtures / "crc_abundance_60x50.tsv"),
            "--beta",
            "1,-2",
            "--out",
            str(tmp_path / "rd"),
        ]
    )
    err = capsys.readouterr().err
    assert rc == 2 and "--beta" in err and not (tmp_path / "rd").exists()


def test_sweep_help_offers_only_the_model_kinds_it_trains(fixtures, tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["sweep", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    kinds = text.split("--model KIND ")[1].split(":")[0]
    assert kinds == "vae or ssvae"
    data = str(fixtures / "crc_abundance_60x50.tsv")
    for kind in ("ae", "pca"):  # refused, so not offered
        rc = main(["sweep", data, "--beta", "1", "--model", kind, "--out", str(tmp_path / "rd")])
        assert rc == 2 and "--model vae or ssvae" in capsys.readouterr().err


def test_sweep_of_conditional_and_semi_supervised_models(fixtures, tmp_path, capsys):
    needs_anndata()
    data = fixtures / "cellbench_100x200.h5ad"
    common = ["--likelihood", "nb", "--beta", "1", "--epochs", "2", *FAST]
    # conditional: the fidelity samples take held-out records' batches
    out = tmp_path / "cond"
    assert (
        main(["sweep", str(data), *common, "--batch-key", "batch", "--fidelity", "--out", str(out)])
        == 0
    )
    assert set(json.loads((out / "sweep.json").read_text())["fidelity"]) == {
        "VAE",
        "autoencoder",
        "PCA",
    }
    out = tmp_path / "ss"
    args = ["--model", "ssvae", "--labels-key", "cell_line", "--out", str(out)]
    assert main(["sweep", str(data), *common, *args]) == 0
    (point,) = json.loads((out / "sweep.json").read_text())["sweep"]
    assert point["rate"] > 0 and point["distortion"] > 0
    assert main(["sweep", str(data), *common, "--model", "ae", "--out", str(tmp_path / "ae")]) == 2
    assert "trains VAEs" in capsys.readouterr().err and not (tmp_path / "ae").exists()


@pytest.mark.parametrize("flag", [["--classifier-input", "x"], ["--unlabeled-category", "unknown"]])
def test_sweep_refuses_label_flags_a_vae_would_ignore(fixtures, tmp_path, capsys, flag):
    data = fixtures / "crc_abundance_60x50.tsv"
    out = tmp_path / "rd"
    rc, _, err = run(capsys, "sweep", data, "--beta", "1", "--epochs", "1", *flag, "--out", out)
    assert rc == 2 and f"{flag[0]} has no effect on --model vae" in err
    assert len(err.strip().splitlines()) == 1 and not out.exists()


@pytest.fixture(scope="module")
def small_model(tmp_path_factory):
    """A small Gaussian VAE saved to a folder, and a 30-record table of its kind of data."""
    folder = tmp_path_factory.mktemp("diag")
    table = small_table(folder)
    table.iloc[:1].to_csv(folder / "one.tsv", sep="\t")
    est = biovae.VAE("gaussian", n_latent=2, hidden=(8,), epochs=3, seed=0).fit(table.to_numpy())
    est.save(folder / "m")
    return folder


def _strict_json(path):
    """Parse ``path`` as standard JSON: NaN and Infinity tokens are an error."""

    def refuse(token):
        raise ValueError(f"{path} holds {token}, which is not JSON")

    return json.loads(path.read_text(), parse_constant=refuse)


def test_diagnose_one_gap_record_reports_no_standard_error(small_model, tmp_path, capsys):
    rc, _, err = run(
        capsys, "diagnose", small_model / "m", small_model / "d.tsv", "--out", tmp_path / "d",
        "--iwae", 10, "--gap-records", 1, "--gap-steps", 5,
    )  # fmt: skip
    assert rc == 0, err
    gap = _strict_json(tmp_path / "d" / "diagnostics.json")["amortization"]
    assert gap["n"] == 1 and gap["amortization_gap_se"] is None
    assert np.isfinite(gap["amortization_gap"])
    assert (tmp_path / "d" / "diagnostics.html").is_file()


def test_diagnose_max_records_names_the_subsample(small_model, tmp_path, capsys):
    rc, _, err = run(
        capsys, "diagnose", small_model / "m", small_model / "d.tsv", "--out", tmp_path / "d",
        "--iwae", 5, "--gap-records", 2, "--gap-steps", 2, "--max-records", 7,
    )  # fmt: skip
    assert rc == 0, err
    result = _strict_json(tmp_path / "d" / "diagnostics.json")
    given = len(pd.read_csv(small_model / "d.tsv", sep="\t", index_col=0))
    assert result["records"] == 7 and result["records_given"] == given > 7
    assert result["log_likelihood"]["n"] == 7
    assert f"7 of the {given} records" in result["subsample"]
    assert f"7 of the {given} records" in (tmp_path / "d" / "diagnostics.html").read_text()


def test_diagnose_says_what_it_is_doing_unless_quiet(small_model, tmp_path, capsys):
    # each diagnostic is a pass over the records per draw: minutes each on 10^5 cells, which
    # ran in silence (16 minutes on 50,000 cells with --iwae 20 and not a line)
    args = ("diagnose", small_model / "m", small_model / "d.tsv", "--iwae", 5,
            "--gap-records", 2, "--gap-steps", 2)  # fmt: skip
    rc, _, err = run(capsys, *args, "--out", tmp_path / "d")
    assert rc == 0
    lines = err.splitlines()
    assert lines[0].startswith("diagnose: 30 records, 51 decoded draws of each")
    assert "--max-records" not in lines[0]  # few records: no hint
    assert any("log p(x) by IWAE (5 draws per record)" in line for line in lines)
    assert any("amortization gap (2 records, 2 steps)" in line for line in lines)
    rc, _, err = run(capsys, *args, "--out", tmp_path / "q", "--quiet")
    # (other libraries' warnings may remain: matplotlib's pyparsing ones on the oldest versions)
    assert rc == 0 and not [line for line in err.splitlines() if line.startswith("diagnose:")]


def test_diagnose_points_many_records_to_max_records(monkeypatch):
    import biovae.diagnose as diag

    monkeypatch.setattr(diag, "MANY_RECORDS", 10)
    note = diag._work_ahead(11, DiagnoseOptions(iwae_k=4, rd_samples=2, ppc_replicates=3), True)
    assert note.startswith("diagnose: 11 records, 9 decoded draws of each")
    assert "--max-records" in note
    chosen = DiagnoseOptions(max_records=11)
    assert "--max-records" not in diag._work_ahead(11, chosen, True)


def test_a_page_that_cannot_be_drawn_leaves_the_earlier_results_as_they_were(
    small_model, tmp_path, capsys, monkeypatch
):
    out = tmp_path / "d"
    out.mkdir()
    (out / "diagnostics.json").write_text('{"earlier": 1}')
    (out / "diagnostics.html").write_text("earlier page")

    def boom(*_, **__):
        raise RuntimeError("plotting failed")

    monkeypatch.setattr("biovae.reports.diagnostics_page.render_document", boom)
    args = ("--iwae", 2, "--gap-records", 1, "--gap-steps", 1)
    with pytest.raises(RuntimeError, match="plotting failed"):
        run(capsys, "diagnose", small_model / "m", small_model / "d.tsv", "--out", out, *args)
    assert (out / "diagnostics.json").read_text() == '{"earlier": 1}'  # not a new JSON
    assert (out / "diagnostics.html").read_text() == "earlier page"


def test_diagnose_refuses_a_single_record(small_model, tmp_path, capsys):
    rc, _, err = run(
        capsys, "diagnose", small_model / "m", small_model / "one.tsv", "--out", tmp_path / "d",
        "--iwae", 10, "--gap-steps", 5,
    )  # fmt: skip
    assert rc == 2 and "at least 2 records, got 1" in err and "one.tsv" in err
    assert "Traceback" not in err and not (tmp_path / "d").exists()
    est = load_model(small_model / "m")
    x = pd.read_csv(small_model / "d.tsv", sep="\t", index_col=0).to_numpy()
    for n in (0, 1):
        with pytest.raises(DataError, match=f"got {n}"):
            diagnose(est, x[:n], DiagnoseOptions(iwae_k=5, gap_steps=2))


@pytest.mark.parametrize(
    "flag, value",
    [("--iwae", 0), ("--iwae", -5), ("--gap-records", 0), ("--gap-records", -2),
     ("--gap-steps", -3), ("--seed", -1), ("--seed", 2**64), ("--max-records", 1)],
)  # fmt: skip
def test_diagnose_checks_its_numeric_options(small_model, tmp_path, capsys, flag, value):
    rc, _, err = run(
        capsys, "diagnose", small_model / "m", small_model / "d.tsv", "--out", tmp_path / "d",
        flag, value,
    )  # fmt: skip
    assert rc == 2 and flag in err and "Traceback" not in err
    assert not (tmp_path / "d").exists()


@pytest.mark.parametrize(
    "field, value",
    [("iwae_k", 0), ("iwae_k", 1), ("gap_records", 0), ("gap_records", -2), ("gap_steps", -1),
     ("rd_samples", 0), ("ppc_replicates", -1), ("iwae_k", 2.5), ("seed", -1),
     ("seed", 2**63), ("seed", 1.5), ("max_records", 1), ("max_records", 2.5)],
)  # fmt: skip
def test_diagnose_options_are_checked_on_construction(field, value):
    with pytest.raises(ConfigError, match=field):
        DiagnoseOptions(**{field: value})
    assert DiagnoseOptions(gap_steps=0, ppc_replicates=0, gap_records=1).gap_steps == 0


def test_sweep_fidelity_on_a_few_held_out_records(fixtures, tmp_path, capsys):
    data = fixtures / "crc_abundance_60x50.tsv"
    args = ["sweep", data, "--beta", "1", "--epochs", "2", "--fidelity", *FAST]
    rc, _, err = run(capsys, *args, "--held-out", 0.05, "--out", tmp_path / "few")
    assert rc == 0, err  # 3 held-out records: 3 folds, not a crash after all the training
    res = _strict_json(tmp_path / "few" / "sweep.json")
    assert res["held_out"] == 3 and set(res["fidelity"]) == {"VAE", "autoencoder", "PCA"}
    rc, _, err = run(capsys, *args, "--held-out", 0.01, "--out", tmp_path / "one")
    assert rc == 2 and "at least 2 held-out records, got 1 of 60" in err
    assert "β=" not in err and not (tmp_path / "one").exists()  # refused before training


def test_sweep_refuses_a_single_held_out_or_training_record(small_model, tmp_path, capsys):
    # one held-out record has no spread of codes: it read "0 active units" at every β
    data = small_model / "d.tsv"
    n = len(pd.read_csv(data, sep="\t", index_col=0))
    args = ["sweep", data, "--beta", "1", "--epochs", "1", *FAST]
    for frac, what in ((0.5 / n, "held-out"), (1 - 1 / n, "training")):
        rc, _, err = run(capsys, *args, "--held-out", frac, "--out", tmp_path / "rd")
        assert rc == 2 and f"at least 2 {what} records, got 1 of {n}" in err, err
        assert len(err.strip().splitlines()) == 1 and "β=" not in err
        assert not (tmp_path / "rd").exists()
    table = pd.read_csv(data, sep="\t", index_col=0).to_numpy()
    train, one = (biovae.inputs.as_dataset(x) for x in (table[:10], table[10:11]))
    with pytest.raises(DataError, match="at least 2 held-out records, got 1"):
        sweep(train, one, [1.0], load_model(small_model / "m").config_)


def test_sweep_refuses_an_iwae_objective_before_training(small_model, monkeypatch):

    def no_training(*args, **kwargs):
        raise AssertionError("a model was trained before the refusal")

    monkeypatch.setattr(biovae.VAE, "fit", no_training)
    cfg = load_model(small_model / "m").config_
    cfg = dataclasses.replace(cfg, objective=dataclasses.replace(cfg.objective, iwae_samples=3))
    x = pd.read_csv(small_model / "d.tsv", sep="\t", index_col=0).to_numpy()
    train, held_out = biovae.inputs.as_dataset(x[:20]), biovae.inputs.as_dataset(x[20:])
    with pytest.raises(ConfigError, match="IWAE-3"):  # no KL term for β to weigh
        sweep(train, held_out, [1.0, 10.0], cfg)


def test_a_predictive_check_that_cannot_run_says_why():
    from biovae import likelihoods
    from biovae.config import LikelihoodConfig
    from biovae.diagnose import _no_predictive_check
    from biovae.reports.diagnostics_page import predictive_section

    def lik(name, shape=(4,), letters=0):
        return likelihoods.build(LikelihoodConfig(name), shape, letters)

    assert _no_predictive_check(lik("nb"), 30) is None
    assert "0 replicates" in _no_predictive_check(lik("nb"), 0)
    assert "not letters" in _no_predictive_check(lik("categorical", (3,), 4), 30)
    assert _no_predictive_check(lik("genotype"), 30) is None  # over the observed calls
    why = _no_predictive_check(lik("categorical", (3,), 4), 30)
    section = predictive_section({"predictive_skipped": why})
    assert section is not None and section.lead == why
    assert predictive_section({}) is None


def test_sweep_fidelity_refuses_a_latent_pca_cannot_fit_before_training(
    small_model, tmp_path, capsys, monkeypatch
):
    # 6 features: PCA takes at most 5 components; it is fitted after the sweep's VAEs, and the
    # refusal came only then, after all the training, with nothing written
    args = ["sweep", small_model / "d.tsv", "--beta", "1", "--epochs", "1", "--fidelity"]
    rc, _, err = run(capsys, *args, "--latent", 6, "--quiet", "--out", tmp_path / "rd")
    assert rc == 2 and "PCA needs n_latent < min(records, features) = 6" in err, err
    assert len(err.strip().splitlines()) == 1 and "β=" not in err
    assert not (tmp_path / "rd").exists()

    def no_training(*args, **kwargs):
        raise AssertionError("a model was trained before the refusal")

    monkeypatch.setattr(biovae.VAE, "fit", no_training)
    x = pd.read_csv(small_model / "d.tsv", sep="\t", index_col=0).to_numpy()
    cfg = load_model(small_model / "m").config_
    cfg = dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, n_latent=6))
    train, held_out = biovae.inputs.as_dataset(x[:20]), biovae.inputs.as_dataset(x[20:])
    with pytest.raises(DataError, match="PCA needs n_latent"):
        fidelity_comparison(train, held_out, cfg)
