"""``biovae sample --label``: records of one class from a semi-supervised model; refused, exit 2
and nothing written, for a label the model lacks or a model without labels."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import biovae
from biovae.cli.main import main
from tests.cli._run import run, small_table


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """Folder with d.tsv, obs.tsv (cell: 'B cell', 'T cell', unknown) and models ss and vae."""
    folder = tmp_path_factory.mktemp("label")
    table = small_table(folder)
    cell = np.array(["B cell", "T cell", "unknown"], dtype=object)[np.arange(len(table)) % 3]
    pd.DataFrame({"cell": cell}, index=table.index).to_csv(folder / "obs.tsv", sep="\t")
    fit = ["fit", folder / "d.tsv", "--epochs", "1", "--hidden", "8", "--latent", "2", "--quiet"]
    ssvae = ["--model", "ssvae", "--obs", folder / "obs.tsv", "--labels-key", "cell"]
    assert main([str(a) for a in [*fit, *ssvae, "--out", folder / "ss"]]) == 0
    assert main([str(a) for a in [*fit, "--out", folder / "vae"]]) == 0
    return folder


def test_samples_of_a_label_are_the_estimators(models, tmp_path, capsys):
    """--label was refused by the parser (unrecognized arguments); the table holds the records
    that ``sample(n, seed=..., label=...)`` of the saved model gives."""
    out = tmp_path / "b.tsv"
    rc, _, err = run(capsys, "sample", models / "ss", "-n", "5", "--out", out, "--label", "B cell")
    assert rc == 0, err
    written = pd.read_csv(out, sep="\t", index_col=0)
    expected = biovae.load_model(models / "ss").sample(5, seed=0, label="B cell")
    assert list(written.index) == [f"sample_{i}" for i in range(1, 6)]
    np.testing.assert_allclose(written.to_numpy(), expected, rtol=1e-5)


@pytest.mark.parametrize(
    ("model", "label", "why"),
    [
        ("ss", "NK cell", "label 'NK cell' is none of this model's 2 classes ('B cell', 'T cell')"),
        ("vae", "B cell", "--label picks the class of the samples, but"),
    ],
    ids=["unknown label", "model without labels"],
)
def test_a_label_the_model_lacks_is_refused_and_nothing_written(
    models, tmp_path, capsys, model, label, why
):
    out = tmp_path / "s.tsv"
    rc, _, err = run(capsys, "sample", models / model, "-n", "5", "--out", out, "--label", label)
    assert rc == 2 and why in err and len(err.strip().splitlines()) == 1, err
    assert not out.exists() and not list(tmp_path.iterdir())
