"""The ``--quiet`` contract (:mod:`biovae.cli.notes`), command by command: with ``--quiet``,
stdout holds only the path of each output written, one per line, and stderr nothing but
warnings. audit, sweep, novelty and screen printed their summaries anyway, ``structure validate
--out`` its table, ``fit --report`` named the report on stderr only and ``demo`` printed a
sentence; diagnose, sweep and ``audit --html`` printed their page but not the JSON beside it."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import pandas as pd
import pytest

from biovae.cli.notes import QUIET_HELP
from biovae.cli.parser import build_parser
from tests.cli._run import run, small_table
from tests.cli.test_variants_cli import SMALL_TOML
from tests.conftest import FIXTURES, needs_anndata

CELLS = FIXTURES / "cellbench_100x200.h5ad"
PDB = FIXTURES / "ubiquitin_2k39_ca_12.pdb"
FAST = "--epochs 2 --hidden 8 --latent 2 --quiet"
STRUCTURE = "--epochs 2 --hidden 16 --batch-size 8 --loss mse --quiet"
SEQS = {"s1": "MKTAYIAKQRQISFVKSHFSRQLEERLGLIEVQ", "s2": "GSHMLEDPVDAFQLGLAEKLTRWQGSLPPA"}

#: command → its arguments before --quiet ({X}: the fixture folder of models and inputs, {T}:
#: the test's own folder, {C}: CellBench counts, {P}: ubiquitin frames, {F}: the fixtures) and
#: the outputs it is told to write, which it prints, one per line
CASES = {
    "fit": (f"fit {{X}}/d.tsv {FAST} --out {{T}}/m --report {{T}}/r.html", ["m", "r.html"]),
    "embed": ("embed {X}/m {X}/d.tsv --out {T}/z.csv", ["z.csv"]),
    "sample": ("sample {X}/m -n 3 --out {T}/s.tsv", ["s.tsv"]),
    "score": ("score {X}/m {X}/d.tsv --iwae 2 --out {T}/s.csv", ["s.csv"]),
    "report": ("report {X}/m {X}/d.tsv --out {T}/r.html", ["r.html"]),
    "demo": ("demo --epochs 1 --out {T}/demo", ["demo/model", "demo/report.html"]),
    "diagnose": (
        "diagnose {X}/m {X}/d.tsv --iwae 2 --gap-records 2 --gap-steps 2 --max-records 10 "
        "--out {T}/d",
        ["d/diagnostics.json", "d/diagnostics.html"],
    ),
    "sweep": (
        f"sweep {{X}}/d.tsv --beta 0.5,2 --fidelity {FAST} --out {{T}}/rd",
        ["rd/sweep.json", "rd/sweep.html"],
    ),
    "novelty": ("novelty {X}/m {X}/d.tsv {X}/h.tsv -n 5 --out {T}/n", ["n/novelty.json"]),
    "audit": (
        "audit {X}/nb {C} --covariates batch,cell_line --technical batch --biological "
        "cell_line --folds 2 --html --out {T}/a",
        ["a/audit.json", "a/audit.html"],
    ),
    "screen": (
        "screen {X}/designs.fasta --screen-against {X}/concern.fasta --out {T}/v.tsv "
        "--passed {T}/ok.fasta",
        ["ok.fasta", "v.tsv"],
    ),
    "loadings": ("loadings {X}/pca --out {T}/l.csv", ["l.csv"]),
    "trajectory": ("trajectory {X}/nb {C} --out {T}/pt.csv", ["pt.csv"]),
    "integration": (
        "integration {X}/nb {C} --batch-key batch --labels-key cell_line --out {T}/m.json",
        ["m.json"],
    ),
    "de": (
        "de {X}/nb {C} --groupby cell_line --group1 H1975 --n-samples 20 --out {T}/de.csv",
        ["de.csv"],
    ),
    "map": ("map {X}/nb {C} --obs {X}/query.tsv --epochs 1 --out {T}/mapped", ["mapped"]),
    "expression": ("expression {X}/nb {C} --out {T}/e.h5ad", ["e.h5ad"]),
    "structure fit": (f"structure fit {{P}} {STRUCTURE} --out {{T}}/sm", ["sm"]),
    "structure report": ("structure report {X}/sm {P} -n 2 --out {T}/r.html", ["r.html"]),
    "structure embed": ("structure embed {X}/sm {P} --out {T}/z.csv", ["z.csv"]),
    "structure sample": ("structure sample {X}/sm -n 2 --out {T}/s.pdb", ["s.pdb"]),
    "structure interpolate": (
        "structure interpolate {X}/sm {P} {P} --steps 2 --out {T}/p.pdb",
        ["p.pdb"],
    ),
    "structure validate": ("structure validate {P} --training {P} --out {T}/v.json", ["v.json"]),
    "variants fit": (
        "variants fit {F}/blat_ecolx_first40.a2m --config {X}/small.toml --steps 2 --out {T}/vm",
        ["vm"],
    ),
    "variants score": (
        "variants score {X}/vm --mutations {X}/mut.csv --samples 2 --out {T}/s.csv",
        ["s.csv"],
    ),
    "variants scan": ("variants scan {X}/vm --samples 2 --out {T}/s.csv", ["s.csv"]),
    "variants design": (
        "variants design {X}/vm -k 1 --beam 2 --pool 2 --samples 2 --out {T}/d.csv",
        ["d.csv"],
    ),
}


def _argv(text: str, made: Path, tmp_path: Path) -> list[str]:
    """``text`` split into arguments, the placeholders replaced by paths."""
    paths = {"{X}": made, "{T}": tmp_path, "{C}": CELLS, "{P}": PDB, "{F}": FIXTURES}
    argv = []
    for word in text.split():
        for key, path in paths.items():
            word = word.replace(key, str(path))
        argv.append(word)
    return argv


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """Tiny models and inputs: a Gaussian VAE and a PCA of a 30 × 6 table, an NB model of the
    CellBench fixture, a structure model of 12 ubiquitin frames and a variants model."""
    needs_anndata()
    pytest.importorskip("MDAnalysis", reason="needs the structure extra (MDAnalysis)")
    import anndata as ad

    from biovae.cli.main import main

    x = tmp_path_factory.mktemp("quiet")
    table = small_table(x)
    held_out = table.iloc[:20] + 0.1  # 20 records the model was not trained on
    held_out.rename(index=lambda i: f"h{i}").to_csv(x / "h.tsv", sep="\t")
    (x / "small.toml").write_text(SMALL_TOML)
    (x / "designs.fasta").write_text("".join(f">{k}\n{v}\n" for k, v in SEQS.items()))
    (x / "concern.fasta").write_text(f">c\n{SEQS['s1']}\n")
    pd.DataFrame({"mutant": ["V29A", "K30A:K32R", "H24A"]}).to_csv(x / "mut.csv", index=False)
    adata = ad.read_h5ad(CELLS)
    query = pd.DataFrame({"batch": "new_" + adata.obs["batch"].astype(str)})  # levels to map
    query.rename_axis("id").to_csv(x / "query.tsv", sep="\t")
    for text in (
        f"fit {{X}}/d.tsv {FAST} --out {{X}}/m",
        "fit {X}/d.tsv --model pca --latent 2 --quiet --out {X}/pca",
        f"fit {{C}} {FAST} --likelihood nb --batch-key batch --out {{X}}/nb",
        f"structure fit {{P}} {STRUCTURE} --out {{X}}/sm",
        "variants fit {F}/blat_ecolx_first40.a2m --config {X}/small.toml --steps 2 --quiet "
        "--out {X}/vm",
    ):
        assert main(_argv(text, x, x)) == 0
    return x


def _report_page(out: Path, epochs: int, progress: bool) -> tuple[Path, Path]:
    """What ``run_demo`` returns, the paths of its model folder and report page, written
    without training."""
    (out / "model").mkdir(parents=True)
    (out / "report.html").write_text("<html></html>")
    return out / "model", out / "report.html"


def _commands(parser: argparse.ArgumentParser, prefix: str = "") -> dict:
    """Every (nested) command's name and parser."""
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        return {prefix.strip(): parser}
    found: dict = {}
    for name, child in subs[0].choices.items():
        found.update(_commands(child, f"{prefix} {name}"))
    return found


def test_every_command_has_quiet_with_the_contract_and_is_checked_below():
    commands = _commands(build_parser())
    assert sorted(commands) == sorted(CASES)  # a new command joins CASES
    for name, parser in commands.items():
        quiet = parser._option_string_actions.get("--quiet")
        assert quiet is not None and quiet.help == QUIET_HELP, name


@pytest.mark.parametrize("command", sorted(CASES))
def test_quiet_prints_only_the_output_paths(made, tmp_path, capsys, monkeypatch, command):
    text, outputs = CASES[command]
    if command == "demo":  # its 150-epoch model and report take long: a report page stands in
        monkeypatch.setattr("biovae.demo.run_demo", _report_page)
    rc, stdout, err = run(capsys, *_argv(text, made, tmp_path), "--quiet")
    assert rc == 0, err
    notes = [line for line in err.splitlines() if not line.startswith("biovae: warning:")]
    assert notes == [], err  # warnings may stay; no progress, notes or summaries
    printed = stdout.splitlines()
    if command == "demo":  # the model and report, by their full paths
        printed = [p.replace(str(tmp_path.resolve()), str(tmp_path)) for p in printed]
    assert printed == [str(tmp_path / o) for o in outputs]
    assert all((tmp_path / o).exists() for o in outputs)


def test_demo_prints_the_model_folder_and_the_report_it_writes(tmp_path, capsys, monkeypatch):
    """``demo`` wrote the model folder as well but printed only the report, in a sentence
    ("report written to ...") even on stdout without --quiet; it prints both paths, with or
    without --quiet. (A tiny network and a stand-in page keep the real run_demo fast.)"""
    from biovae import demo
    from biovae.config import NetworkConfig

    tiny = demo.demo_config(1)
    tiny = dataclasses.replace(
        tiny, model=dataclasses.replace(tiny.model, n_latent=2, network=NetworkConfig((8,)))
    )
    monkeypatch.setattr(demo, "demo_config", lambda epochs: tiny)
    monkeypatch.setattr(
        "biovae.reports.html.write_report",
        lambda est, path, **kw: Path(path).write_text("") or path,
    )
    for quiet in ([], ["--quiet"]):
        out = tmp_path / f"demo{len(quiet)}"
        rc, stdout, err = run(capsys, "demo", "--epochs", "1", "--out", out, *quiet)
        assert rc == 0, err
        want = [str((out / "model").resolve()), str((out / "report.html").resolve())]
        assert stdout.splitlines() == want
        assert (out / "model" / "config.json").is_file()
