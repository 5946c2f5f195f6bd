"""A label column of numbers marks unlabelled records −1, as scikit-learn's ``y`` (and
``SemiSupervisedVAE.fit(X, y)``) does, unless another marker is named; a text column's "-1" is
a label. The CLI's --obs table, ``tl.vae``'s obs and the label spec read it alike."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

import biovae
from biovae.config import DataConfig, FitConfig, ModelConfig, NetworkConfig, TrainConfig
from biovae.errors import DataError
from biovae.inputs import as_dataset, obs_columns
from biovae.models.labels import LabelSpec
from biovae.models.schema import DataSchema
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
    assert tuple(est.classes_) == ("-1", "0", "1", "2")


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
    assert tuple(biovae.load_model(tmp_path / "m2").classes_) == ("-1", "0", "1", "2")


@pytest.mark.parametrize("categories", [None, [2, 1, 0, -1], [-1.0, 0.0, 1.0, 2.0]])
def test_a_categorical_of_numbers_reads_minus_one_as_a_column_of_numbers_does(categories):
    """pd.Categorical([0, 1, -1, ...]) trained -1 as a class, though the same numbers as an
    int or float column (or as y) mark unlabelled records with it."""
    column = pd.Categorical(LABELS, categories=categories)
    ds = as_dataset(np.zeros((40, 2)), pd.DataFrame({"y": column}))
    spec = LabelSpec.fit(ds.obs, "y", declared=ds.categories["y"])
    order = ("2", "1", "0") if categories and categories[0] == 2 else ("0", "1", "2")
    assert spec.levels == order and spec.numbers
    truth = np.array([order.index(str(v)) if v != -1 else -1 for v in LABELS])
    np.testing.assert_array_equal(spec.encode(ds.obs).numpy(), truth)
    # the saved model reads a later column's -1 so too, whatever type it arrives in
    saved = DataSchema.from_dict(DataSchema((2,), labels=spec).to_dict()).labels
    for later in (ds.obs["y"], LABELS, LABELS.astype(np.float64)):
        np.testing.assert_array_equal(saved.encode({"y": later}).numpy(), truth)
    # a named marker makes -1 a class; a categorical of text keeps its "-1" a class
    named = LabelSpec.fit(ds.obs, "y", unlabeled="unknown", declared=ds.categories["y"])
    assert "-1" in named.levels and len(named.levels) == 4
    text = as_dataset(np.zeros((40, 2)), pd.DataFrame({"y": pd.Categorical(LABELS.astype(str))}))
    assert LabelSpec.fit(text.obs, "y", declared=text.categories["y"]).levels[0] == "-1"


def test_models_saved_before_keep_minus_one_of_a_categorical_as_they_were_fitted():
    text = np.asarray(pd.Categorical(LABELS).astype(str), dtype=object)  # as the readers spell it
    old = DataSchema.from_dict(
        {"data_shape": [2], "labels": {"key": "y", "levels": ["-1", "0", "1", "2"]}}
    )
    assert not old.labels.numbers
    np.testing.assert_array_equal(old.labels.encode({"y": text}).numpy(), LABELS + 1)
    old = DataSchema.from_dict(
        {"data_shape": [2], "labels": {"key": "y", "levels": ["0", "1", "2"]}}
    )
    with pytest.raises(DataError, match="label '-1' of record 1"):  # as before: not seen
        old.labels.encode({"y": text})


def test_fit_x_y_with_a_named_marker_trains_minus_one_as_the_obs_column_does():
    """fit(X, y) read y's -1 as unlabelled even with unlabeled_category naming another marker,
    while the same labels as an obs column of numbers trained -1 as a class."""
    x = np.random.default_rng(0).normal(size=(40, 4)).astype(np.float32)
    marked = np.where(np.arange(40) % 5 == 0, 7, LABELS)
    for marker, n_unlabelled in (("unknown", 0), (7, 8)):
        cfg = dataclasses.replace(TINY, data=DataConfig(unlabeled_category=marker))
        by_y = biovae.SemiSupervisedVAE(config=cfg).fit(x, y=marked if marker == 7 else LABELS)
        assert tuple(by_y.classes_) == (-1, 0, 1, 2)
        column = pd.DataFrame({"c": marked if marker == 7 else LABELS})
        by_obs = biovae.SemiSupervisedVAE(config=cfg, labels_key="c").fit(x, column)
        assert tuple(by_obs.classes_) == ("-1", "0", "1", "2")
        codes = by_y.schema_.labels.encode({"y": marked if marker == 7 else LABELS})
        assert int((codes == -1).sum()) == n_unlabelled
    cfg = dataclasses.replace(TINY, data=DataConfig())  # no marker: -1 is none, as before
    assert tuple(biovae.SemiSupervisedVAE(config=cfg).fit(x, y=LABELS).classes_) == (0, 1, 2)
