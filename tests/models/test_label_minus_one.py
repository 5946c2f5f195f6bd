"""A label column of numbers marks unlabelled records −1, as scikit-learn's ``y`` (and
``SemiSupervisedVAE.fit(X, y)``) does, unless another marker is named; a text column's "-1" is
a label. The CLI's --obs table, ``tl.vae``'s obs and the label spec read it alike."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import biovae
from biovae.config import FitConfig, ModelConfig, NetworkConfig, TrainConfig
from biovae.errors import DataError
from biovae.inputs import obs_columns
from biovae.models.labels import LabelSpec
from tests.cli._run import run, small_table

#: labels of 40 records: three classes, −1 on every other record
LABELS = np.where(np.arange(40) % 2 == 0, -1, np.arange(40) % 3)
TINY = FitConfig(
    model=ModelConfig(n_latent=2, network=NetworkConfig(hidden=(8,))),
    train=TrainConfig(epochs=1, batch_size=32),
)


@pytest.mark.parametrize("dtype", ["int64", "float64", "Int64"])
def test_minus_one_of_a_column_of_numbers_is_unlabelled(dtype):
    column = pd.Series(LABELS).astype(dtype)
    if dtype != "int64":
        column[[1, 3]] = None  # NaN / pd.NA: unlabelled too
    values = obs_columns(pd.DataFrame({"y": column}), len(LABELS))["y"]  # as the readers hold it
    spec = LabelSpec.fit({"y": values}, "y")
    assert spec.levels == ("0", "1", "2") and spec.unlabeled is None
    expected = LABELS.copy()
    if dtype != "int64":
        expected[[1, 3]] = -1
    np.testing.assert_array_equal(spec.encode({"y": values}).numpy(), expected)
    np.testing.assert_array_equal(spec.encode({"y": LABELS}).numpy(), LABELS)  # int64 as given


def test_a_named_marker_makes_minus_one_a_class_and_text_minus_one_is_a_label():
    spec = LabelSpec.fit({"y": LABELS}, "y", unlabeled="unknown")
    assert spec.levels == ("-1", "0", "1", "2")
    assert spec.encode({"y": LABELS}).tolist()[:2] == [0, 2]
    marked = np.where(np.arange(40) % 5 == 0, 7, LABELS).astype(np.float64)
    spec = LabelSpec.fit({"y": marked}, "y", unlabeled=7)
    assert spec.levels == ("-1", "0", "1", "2")
    assert spec.encode({"y": marked}).tolist()[:2] == [-1, 2]
    text = LabelSpec.fit({"y": LABELS.astype(str).astype(object)}, "y")
    assert text.levels == ("-1", "0", "1", "2")  # a text column's "-1" is a label
    # a model fitted when -1 was a class codes its data as it was fitted
    old = LabelSpec("y", ("-1", "0", "1", "2"))
    assert old.encode({"y": LABELS.astype(np.float64)}).tolist()[:2] == [0, 2]


def test_a_minus_one_plus_one_column_names_the_fix():
    values = np.where(np.arange(10) % 2, 1.0, -1.0)
    with pytest.raises(DataError, match=r"1 labelled level\(s\) \(1\).*--unlabeled-category"):
        LabelSpec.fit({"y": values}, "y")
    assert LabelSpec.fit({"y": values}, "y", unlabeled="unknown").levels == ("-1", "1")


def _never_minus_one(classes, predicted):
    assert tuple(str(c) for c in classes) == ("0", "1", "2")
    assert "-1" not in {str(p) for p in predicted}


@pytest.mark.parametrize("dtype", ["int64", "float64"])
def test_tl_vae_reads_minus_one_of_an_int_or_float_obs_column_as_unlabelled(dtype):
    anndata = pytest.importorskip("anndata")
    rng = np.random.default_rng(0)
    adata = anndata.AnnData(rng.poisson(3.0, size=(40, 6)).astype(np.float32))
    adata.obs["lab"] = LABELS.astype(dtype)
    est = biovae.tl.vae(adata, labels_key="lab", config=TINY)
    _never_minus_one(est.classes_, adata.obs["X_biovae_label"])
    assert "X_biovae_p_-1" not in adata.obs
    adata.obs["lab"] = LABELS.astype(str)  # text: "-1" is a class
    est = biovae.tl.vae(adata, labels_key="lab", config=TINY)
    assert est.classes_ == ("-1", "0", "1", "2")


def test_cli_fit_reads_minus_one_of_an_obs_column_of_numbers_as_unlabelled(tmp_path, capsys):
    table = small_table(tmp_path)
    lab = pd.array(LABELS[: len(table)], dtype="Int64")
    lab[3] = pd.NA  # an empty field beside the -1s
    pd.DataFrame({"lab": lab}, index=table.index).to_csv(tmp_path / "obs.tsv", sep="\t")
    fit = ["fit", tmp_path / "d.tsv", "--obs", tmp_path / "obs.tsv", "--model", "ssvae"]
    fit += ["--labels-key", "lab", "--epochs", "1", "--hidden", "8", "--latent", "2"]
    rc, _, err = run(capsys, *fit, "--out", tmp_path / "m")
    assert rc == 0, err
    model = biovae.load_model(tmp_path / "m")
    _never_minus_one(model.classes_, model.predict(table.to_numpy()))
    rc, _, err = run(capsys, *fit, "--unlabeled-category", "unknown", "--out", tmp_path / "m2")
    assert rc == 0, err
    assert biovae.load_model(tmp_path / "m2").classes_ == ("-1", "0", "1", "2")
