"""``--obs-id-column``: every command with ``--obs`` takes it; the --obs table's ids are read
from that column (default: the first), kept as text ('007'), saved with a fitted model."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from biovae.cli.parser import build_parser
from tests.cli._run import run

IDS = [f"{i:03d}" for i in range(30)]  # 000 .. 029: numbers to a spreadsheet, ids here


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A 30-record table with ids 000..029 and a PCA model of it; metadata tables with the ids
    in the first and in the third column (rows reversed, two extra rows)."""
    folder = tmp_path_factory.mktemp("obs_id")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(30, 2)) @ rng.normal(size=(2, 6)) + 0.3 * rng.normal(size=(30, 6))
    data = pd.DataFrame(x, index=pd.Index(IDS, name="sample_id"))
    data.columns = [f"g{j}" for j in range(6)]
    data.to_csv(folder / "d.tsv", sep="\t")
    batch = ["a" if i % 3 else "b" for i in range(30)]
    first = pd.DataFrame({"sample_id": IDS, "batch": batch})
    first.to_csv(folder / "first.tsv", sep="\t", index=False)
    third = pd.DataFrame({"study": ["s"] * 32, "batch": [*batch, "a", "b"]})
    third["sample_id"] = [*IDS, "7", "998"]  # '7' is not record '007'
    third.iloc[::-1].to_csv(folder / "third.tsv", sep="\t", index=False)
    fit = ["fit", folder / "d.tsv", "--model", "pca", "--latent", "2", "--quiet"]
    from biovae.cli.main import main

    assert main([str(a) for a in [*fit, "--out", folder / "m"]]) == 0
    return folder


def _subcommands():
    parser = build_parser()
    sub = next(a for a in parser._actions if hasattr(a, "choices") and a.choices)
    for name, command in sub.choices.items():
        nested = [a for a in command._actions if hasattr(a, "choices") and a.choices]
        nested = [a for a in nested if isinstance(a.choices, dict)]
        if nested:
            yield from ((f"{name} {n}", c) for n, c in nested[0].choices.items())
        else:
            yield name, command


def test_every_command_with_obs_takes_obs_id_column():
    with_obs = [n for n, c in _subcommands() if "--obs" in c._option_string_actions]
    assert {"fit", "audit", "report", "integration", "de", "trajectory", "sample"} <= set(with_obs)
    lacking = [
        n for n, c in _subcommands() if "--obs" in c._option_string_actions
        if "--obs-id-column" not in c._option_string_actions
    ]  # fmt: skip
    assert not lacking


def test_audit_reads_the_named_id_column_as_the_first_one(files, tmp_path, capsys):
    """The same join (by id, rows reversed, extra rows ignored) gives the same audit."""
    audit = ["audit", files / "m", files / "d.tsv", "--covariates", "batch", "--quiet"]
    rc, _, err = run(capsys, *audit, "--obs", files / "first.tsv", "--out", tmp_path / "a")
    assert rc == 0, err
    named = ["--obs", files / "third.tsv", "--obs-id-column", "sample_id"]
    rc, _, err = run(capsys, *audit, *named, "--out", tmp_path / "b")
    assert rc == 0, err
    a, b = (json.loads((tmp_path / f / "audit.json").read_text()) for f in "ab")
    assert a == b


def test_ids_in_the_third_column_without_the_flag_are_one_line_naming_the_fix(
    files, tmp_path, capsys
):
    out = tmp_path / "r.html"
    report = ["report", files / "m", files / "d.tsv", "--color-by", "batch", "--out", out]
    rc, _, err = run(capsys, *report, "--obs", files / "third.tsv")
    assert rc == 2 and len(err.strip().splitlines()) == 1, err
    assert err.startswith(f"biovae report: error: {files / 'third.tsv'}: record '000'")
    assert "column 'study'" in err and "--obs-id-column" in err and not out.exists()
    rc, _, err = run(capsys, *report, "--obs", files / "third.tsv", "--obs-id-column", "sampleid")
    assert (
        rc == 2
        and "id column 'sampleid' not found in the metadata table" in err
        and not out.exists()
    )
    rc, _, err = run(capsys, *report, "--obs-id-column", "sample_id")
    assert rc == 2 and "--obs" in err and not out.exists()


def test_the_id_column_is_saved_and_dropped_with_its_table(files, tmp_path, capsys):
    """A model fitted with --obs and --obs-id-column saves both, and report reads its saved
    table by that column; score, which reads no metadata for a model that needs none, drops
    both (dropping the table alone left the column: a config error)."""
    model = tmp_path / "m"
    fit = ["fit", files / "d.tsv", "--model", "pca", "--latent", "2", "--quiet"]
    named = ["--obs", files / "third.tsv", "--obs-id-column", "sample_id"]
    assert run(capsys, *fit, *named, "--out", model)[0] == 0
    data = json.loads((model / "config.json").read_text())["data"]
    assert data["obs_id_column"] == "sample_id"
    rc, _, err = run(capsys, "score", model, files / "d.tsv", "--out", tmp_path / "s.csv")
    assert rc == 0, err
    out = tmp_path / "r.html"
    rc, _, err = run(capsys, "report", model, files / "d.tsv", "--color-by", "batch", "--out", out)
    assert rc == 0, err


def test_sample_names_its_records_by_the_named_column_as_text(tmp_path, capsys):
    model = tmp_path / "m"
    rng = np.random.default_rng(1)
    table = pd.DataFrame(rng.normal(size=(24, 4)), columns=[f"g{j}" for j in range(4)])
    table.insert(0, "id", [f"r{i}" for i in range(24)])
    table["batch"] = ["a", "b"] * 12
    table.to_csv(tmp_path / "d.tsv", sep="\t", index=False)
    fit = ["fit", tmp_path / "d.tsv", "--categorical-covariates", "batch", "--latent", "2"]
    assert run(capsys, *fit, "--hidden", "8", "--epochs", "1", "--quiet", "--out", model)[0] == 0
    (tmp_path / "o.tsv").write_text("note\tbatch\tname\nx\ta\t007\ny\tb\t7\n")
    out = tmp_path / "s.tsv"
    sample = ["sample", model, "-n", "2", "--obs", tmp_path / "o.tsv", "--out", out, "--quiet"]
    assert run(capsys, *sample)[0] == 0
    assert pd.read_csv(out, sep="\t", dtype=str)["id"].tolist() == ["x", "y"]
    assert run(capsys, *sample, "--obs-id-column", "name")[0] == 0
    assert pd.read_csv(out, sep="\t", dtype=str)["id"].tolist() == ["007", "7"]
    out.unlink()
    rc, _, err = run(capsys, *sample, "--obs-id-column", "nme")
    assert rc == 2 and "id column 'nme'" in err and not out.exists()
