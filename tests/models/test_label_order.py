"""The order of a semi-supervised model's classes: a categorical column's declared order, else
numbers by value when every level is one (clusters 0, 1, 2, …, 10, as pandas orders a
Categorical of integers), else text sorted; a saved model keeps the order it was saved with."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import biovae
from biovae import SemiSupervisedVAE
from biovae.config import FitConfig, ModelConfig, NetworkConfig, TrainConfig
from biovae.data.dataset import Dataset
from biovae.inputs import as_dataset
from biovae.levels import class_order
from biovae.models import labels as labels_module
from biovae.models.labels import LabelSpec

TWELVE = tuple(str(k) for k in range(12))
TINY = FitConfig(
    model=ModelConfig(n_latent=2, network=NetworkConfig(hidden=(8,))),
    train=TrainConfig(epochs=1, batch_size=32),
)


def separable(classes: np.ndarray, seed: int = 0) -> np.ndarray:
    """One feature per class, shifted by 6 for its records: a label the data say plainly."""
    rng = np.random.default_rng(seed)
    values = np.unique(classes)
    x = rng.normal(size=(len(classes), len(values))).astype(np.float32)
    x[np.arange(len(classes)), np.searchsorted(values, classes)] += 6.0
    return x


def trained(epochs: int) -> FitConfig:
    return FitConfig(
        model=ModelConfig(n_latent=4, network=NetworkConfig(hidden=(32,), dropout=0.0)),
        train=TrainConfig(epochs=epochs, batch_size=32, lr=0.01, seed=0, patience=0),
    )


@pytest.mark.parametrize(
    "column",
    [
        np.arange(36) % 12,  # int
        (np.arange(36) % 12).astype(np.float64),  # as the readers hold a column of numbers
        (np.arange(36) % 12).astype(str).astype(object),  # numbers written as text
    ],
)
def test_numeric_levels_are_ordered_by_value(column):
    assert LabelSpec.fit({"y": column}, "y").levels == TWELVE


def test_a_categorical_column_keeps_its_declared_order():
    values = np.array(["hi", "lo", "mid", "unknown"] * 5)
    frame = pd.DataFrame({"y": pd.Categorical(values, categories=["lo", "mid", "hi", "unknown"])})
    ds = as_dataset(np.zeros((len(values), 2)), frame)
    assert LabelSpec.fit(ds.obs, "y", declared=ds.categories["y"]).levels == ("lo", "mid", "hi")
    # numbers declared out of value order keep that order too (a user's factor levels)
    declared = ("10", "2", "1")
    assert class_order({"1", "2", "10"}, declared) == declared
    # a level the declaration lacks (an alias) follows the declared ones
    assert class_order({"b", "a", "z"}, ("z",)) == ("z", "a", "b")


def test_mixed_or_text_levels_stay_sorted_as_text():
    mixed = np.array(["b", "10", "a", "2"] * 3, dtype=object)
    assert LabelSpec.fit({"y": mixed}, "y").levels == ("10", "2", "a", "b")
    names = np.array(["T cell", "B cell", "NK"] * 3, dtype=object)
    assert LabelSpec.fit({"y": names}, "y").levels == ("B cell", "NK", "T cell")
    assert class_order({"inf", "2", "10"}) == ("10", "2", "inf")  # "inf" is no finite number


def test_integer_labels_give_numeric_classes_and_aligned_probabilities():
    truth = np.arange(240) % 12
    x = separable(truth)
    est = SemiSupervisedVAE(config=trained(40)).fit(x, y=truth)
    assert tuple(est.classes_) == tuple(range(12))
    proba = est.predict_proba(x)
    predicted = est.predict(x)
    # column k of predict_proba is the probability of classes_[k]: its argmax is the label
    np.testing.assert_array_equal(np.asarray(est.classes_)[proba.argmax(1)], predicted)
    assert float((predicted == truth).mean()) > 0.95
    for k, level in enumerate(est.classes_):  # each class's records score highest in its column
        assert float(proba[truth == level, k].mean()) > 0.5


def test_a_categorical_y_keeps_its_declared_order():
    values = np.array(["hi", "lo", "mid"] * 12)
    y = pd.Series(pd.Categorical(values, categories=["lo", "mid", "hi"]))
    est = SemiSupervisedVAE(config=TINY).fit(separable(values), y=y)
    assert tuple(est.classes_) == ("lo", "mid", "hi")
    est = SemiSupervisedVAE(config=TINY).fit(separable(values), y=np.asarray(values))
    assert tuple(est.classes_) == ("hi", "lo", "mid")  # plain text: sorted


def test_a_categorical_y_or_column_keeps_its_declared_order_with_obs_as_a_dict():
    """With obs a dict (not a DataFrame) the classes were sorted as text: hi, lo, mid."""
    values = np.array(["hi", "lo", "mid"] * 12)
    y = pd.Categorical(values, categories=["lo", "mid", "hi"])
    x, other = separable(values), {"batch": np.zeros(len(values))}
    assert tuple(SemiSupervisedVAE(config=TINY).fit(x, other, y=y).classes_) == ("lo", "mid", "hi")
    assert SemiSupervisedVAE(config=TINY).fit(x, other, y=pd.Series(y)).classes_[0] == "lo"
    by_column = SemiSupervisedVAE(labels_key="c", config=TINY).fit(x, {**other, "c": y})
    assert tuple(by_column.classes_) == ("lo", "mid", "hi")
    assert as_dataset(x, {"c": y}).categories == {"c": ("lo", "mid", "hi")}


def test_tl_vae_writes_integer_clusters_in_numeric_order():
    anndata = pytest.importorskip("anndata")
    truth = np.arange(48) % 12
    adata = anndata.AnnData(np.random.default_rng(0).poisson(3.0, (48, 6)).astype(np.float32))
    adata.obs["leiden"] = truth  # int64
    biovae.tl.vae(adata, labels_key="leiden", config=TINY)
    assert tuple(adata.obs["X_biovae_label"].cat.categories) == TWELVE
    columns = [c for c in adata.obs.columns if c.startswith("X_biovae_p_")]
    assert columns == [f"X_biovae_p_{k}" for k in range(12)]
    adata.obs["leiden"] = pd.Categorical(truth.astype(str), categories=TWELVE[::-1])
    biovae.tl.vae(adata, labels_key="leiden", config=TINY)
    assert tuple(adata.obs["X_biovae_label"].cat.categories) == TWELVE[::-1]


def test_a_model_saved_with_text_sorted_levels_keeps_them(tmp_path, monkeypatch):
    truth = np.repeat([1, 2, 10], 60)
    x = separable(truth)
    obs = {"cluster": truth.astype(np.float64)}
    ds = Dataset(x, [f"r{i}" for i in range(len(x))], [f"f{j}" for j in range(3)], obs)
    # the order earlier versions gave: levels sorted as text
    monkeypatch.setattr(
        labels_module,
        "class_order",
        lambda levels, declared=(): tuple(sorted(set(levels))),
        raising=False,
    )
    old = SemiSupervisedVAE(labels_key="cluster", config=trained(30)).fit(ds)
    monkeypatch.undo()
    assert tuple(old.classes_) == ("1", "10", "2")
    old.save(tmp_path / "old")
    loaded = biovae.load_model(tmp_path / "old")
    assert tuple(loaded.classes_) == ("1", "10", "2")
    np.testing.assert_allclose(loaded.predict_proba(ds), old.predict_proba(ds), atol=1e-6)
    assert float((loaded.predict(ds).astype(int) == truth).mean()) > 0.95
    # new data are coded into the saved order: label 2 is class 2, label 10 class 1
    codes = loaded.schema_.labels.encode({"cluster": np.array([1.0, 2.0, 10.0])})
    assert codes.tolist() == [0, 2, 1]
    # a fit now orders the same labels by value
    assert LabelSpec.fit(obs, "cluster").levels == ("1", "2", "10")
