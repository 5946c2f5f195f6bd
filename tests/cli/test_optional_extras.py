"""A command that needs a missing optional package says which extra to install in one line,
exit status 2, before any work and with nothing written (a core install: ``pip install
biovae`` has neither matplotlib nor scikit-learn)."""

from __future__ import annotations

import sys

import pytest

import biovae
from biovae.errors import MissingDependencyError, require
from tests.cli._run import run, small_table

FAST = ["--hidden", "8", "--latent", "2", "--epochs", "1", "--quiet"]


def _block(monkeypatch, *modules: str) -> None:
    """Make ``import MODULE`` raise ImportError, as where the package is not installed."""
    for name in modules:
        monkeypatch.setitem(sys.modules, name, None)


def _one_line(rc: int, out: str, err: str, extra: str) -> None:
    assert rc == 2 and out == "", err
    assert len(err.strip().splitlines()) == 1 and f"pip install 'biovae[{extra}]'" in err, err
    assert "Traceback" not in err


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """A 30 × 6 table and a small Gaussian VAE of it saved to a folder."""
    folder = tmp_path_factory.mktemp("extras")
    x = small_table(folder).to_numpy()
    biovae.VAE("gaussian", n_latent=2, hidden=(8,), epochs=2, seed=0).fit(x).save(folder / "m")
    return folder


@pytest.mark.parametrize(
    ("module", "package"),
    [("sklearn.neighbors", "scikit-learn"), ("biom", "biom-format"), ("anndata", "anndata")],
)
def test_the_hint_names_the_package_to_install_not_the_submodule(monkeypatch, module, package):
    _block(monkeypatch, module)
    with pytest.raises(MissingDependencyError) as info:
        require(module, "report")
    assert f"optional package '{package}';" in str(info.value)


def test_fit_with_a_report_refuses_before_training(small, tmp_path, monkeypatch, capsys):
    _block(monkeypatch, "matplotlib")
    model, report = tmp_path / "m", tmp_path / "r.html"
    rc, out, err = run(capsys, "fit", small / "d.tsv", *FAST, "--out", model, "--report", report)
    _one_line(rc, out, err, "report")
    assert not model.exists() and not report.exists()  # not a model without its report


def test_demo_refuses_before_training(tmp_path, monkeypatch, capsys):
    _block(monkeypatch, "matplotlib")
    rc, out, err = run(capsys, "demo", "--epochs", "1", "--quiet", "--out", tmp_path / "demo")
    _one_line(rc, out, err, "report")
    assert not (tmp_path / "demo").exists()


def test_diagnose_writes_no_json_without_its_html(small, tmp_path, monkeypatch, capsys):
    _block(monkeypatch, "matplotlib")
    rc, out, err = run(capsys, "diagnose", small / "m", small / "d.tsv", "--out", tmp_path / "d")
    _one_line(rc, out, err, "report")
    assert not (tmp_path / "d").exists()


def test_sweep_refuses_before_training(small, tmp_path, monkeypatch, capsys):
    args = ["sweep", small / "d.tsv", "--beta", "0.5,1", *FAST, "--out", tmp_path / "rd"]
    _block(monkeypatch, "matplotlib")
    rc, out, err = run(capsys, *args)
    _one_line(rc, out, err, "report")  # one line: no β= lines of a sweep that ran
    assert not (tmp_path / "rd").exists()
    monkeypatch.undo()
    _block(monkeypatch, "sklearn")  # the fidelity comparison's classifier
    rc, out, err = run(capsys, *args, "--fidelity", "--held-out", "0.5")
    _one_line(rc, out, err, "report")
    assert "'scikit-learn'" in err and not (tmp_path / "rd").exists()


def test_structure_fit_with_a_report_refuses_before_training(
    fixtures, tmp_path, monkeypatch, capsys
):
    pytest.importorskip("MDAnalysis", reason="reads PDB files: needs biovae[structure]")
    _block(monkeypatch, "matplotlib")
    model, report = tmp_path / "m", tmp_path / "r.html"
    data = fixtures / "ubiquitin_2k39_ca_12.pdb"
    args = ["structure", "fit", data, "--epochs", "1", "--quiet", "--out", model]
    rc, out, err = run(capsys, *args, "--report", report)
    _one_line(rc, out, err, "report")
    assert not model.exists() and not report.exists()


@pytest.mark.parametrize(
    "argv",
    [
        ["audit", "--covariates", "batch", "--out", "a"],
        ["trajectory", "--out", "t.csv"],
        ["integration", "--batch-key", "b", "--labels-key", "c", "--out", "i.json"],
    ],
    ids=lambda argv: argv[0],
)
def test_scikit_learn_is_asked_for_before_the_model_is_read(
    small, tmp_path, monkeypatch, capsys, argv
):
    _block(monkeypatch, "sklearn")
    command, *flags = argv
    flags = [tmp_path / f if f in ("a", "t.csv", "i.json") else f for f in flags]
    rc, out, err = run(capsys, command, tmp_path / "no_model", small / "d.tsv", *flags)
    _one_line(rc, out, err, "report")  # not "no model at ...": the extra is said first
    assert "'scikit-learn'" in err and list(tmp_path.iterdir()) == []
