"""Reference mapping of a semi-supervised model with labels in the query: labelled query cells
train on the labelled bound and the classification term (as scvi-tools' scANVI query training),
only the new weights move, and a query without labels maps exactly as before."""

from __future__ import annotations

import numpy as np
import pytest

import biovae
from biovae.cli.main import main
from biovae.config import DataConfig, FitConfig, ModelConfig, NetworkConfig, TrainConfig
from biovae.errors import DataError
from biovae.query import map_query
from tests.test_query import _batches


@pytest.fixture(scope="module")
def reference():
    (xr, orf), (xq, oq) = _batches(seed=2)
    cfg = FitConfig(
        model=ModelConfig(n_latent=4, network=NetworkConfig(hidden=(16,))),
        train=TrainConfig(epochs=8, batch_size=64, seed=0),
        data=DataConfig(categorical_covariates=("batch",)),
    )
    ref = biovae.SemiSupervisedVAE("nb", labels_key="type", config=cfg).fit(xr, orf)
    return ref, (xr, orf), (xq, oq)


def test_labelled_query_cells_train_the_labelled_objective_of_the_new_weights(reference):
    """The query's labels were ignored: a query with 30 % of its cells labelled trained (and
    its loss read) exactly as an unlabelled one."""
    ref, (xr, orf), (xq, oq) = reference
    n_lab = 60
    labels = oq["type"].copy()
    labels[n_lab:] = "unknown"
    q_none = map_query(ref, xq, {"batch": oq["batch"]}, epochs=3)
    q_lab = map_query(ref, xq, {"batch": oq["batch"], "type": labels}, epochs=3)
    # without labels the loss is the negative ELBO; with them, α·(−log q(y|x)) over the
    # labelled cells is added (α = 50), so the loss exceeds −ELBO
    last_none, last_lab = q_none.history_[-1], q_lab.history_[-1]
    assert last_none["loss"] == pytest.approx(-last_none["elbo"], rel=1e-5)
    assert last_lab["loss"] + last_lab["elbo"] > 1.0
    assert last_lab["loss"] + last_lab["elbo"] < 50.0 * np.log(3) * 1.5  # α·CE, CE ~ log 3
    # the new weights learnt from it: the query lands elsewhere
    assert not np.array_equal(q_lab.transform(xq, oq), q_none.transform(xq, oq))
    # the reference stays frozen: its records' embedding and label probabilities are unchanged
    np.testing.assert_array_equal(q_lab.transform(xr, orf), ref.transform(xr, orf))
    np.testing.assert_array_equal(q_lab.predict_proba(xr, orf), ref.predict_proba(xr, orf))
    assert list(q_lab.classes_) == list(ref.classes_)


@pytest.mark.parametrize("marker", ["unknown", "", None, np.nan, "Unlabeled"])
def test_a_query_labelling_no_cell_maps_exactly_as_one_without_labels(reference, marker):
    ref, _, (xq, oq) = reference
    plain = map_query(ref, xq, {"batch": oq["batch"]}, epochs=2)
    marked = np.full(len(xq), marker, dtype=object)
    same = map_query(ref, xq, {"batch": oq["batch"], "type": marked}, epochs=2)
    np.testing.assert_array_equal(same.transform(xq, oq), plain.transform(xq, oq))
    assert [r["loss"] for r in same.history_] == [r["loss"] for r in plain.history_]


def test_a_query_label_the_reference_never_saw_is_refused(reference, tmp_path, capsys):
    anndata = pytest.importorskip("anndata")
    import pandas as pd

    ref, _, (xq, oq) = reference
    labels = oq["type"].copy()
    labels[[5, 9]] = "D"
    with pytest.raises(DataError, match=r"label 'D' in column 'type' \(record 6, '5'; 2 record"):
        map_query(ref, xq, {"batch": oq["batch"], "type": labels}, epochs=1)
    # how to mark one unlabelled, by the rule of the labels: the -1 of a categorical of
    # numbers is no label too (column_unlabelled), not only that of a column of numbers
    with pytest.raises(DataError) as refused:
        map_query(ref, xq, {"batch": oq["batch"], "type": labels}, epochs=1)
    marks = "('unknown', -1 in a column or categorical of numbers, or empty)"
    assert str(refused.value).endswith(f"mark them unlabelled {marks}")
    ref.save(tmp_path / "ref")
    obs = pd.DataFrame({"batch": oq["batch"], "type": labels}, index=[f"q{i}" for i in range(200)])
    adata = anndata.AnnData(xq, obs=obs)
    adata.var_names = [f"f{j}" for j in range(xq.shape[1])]
    adata.write_h5ad(tmp_path / "q.h5ad")
    args = ["map", str(tmp_path / "ref"), str(tmp_path / "q.h5ad"), "--out", str(tmp_path / "m")]
    assert main([*args, "--epochs", "1", "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "'D'" in err and "mark them unlabelled" in err
    assert not (tmp_path / "m").exists()


def test_the_reference_unlabeled_category_marks_query_cells_unlabelled(reference):
    """The query's labels are read as the reference fit read its own: its unlabeled category
    ("Unassigned") marks a cell unlabelled, not a class the reference never saw."""
    ref, (xr, orf), (xq, oq) = reference
    marked = {**orf, "type": orf["type"].copy()}
    marked["type"][::3] = "Unassigned"
    cfg = FitConfig(
        model=ref.config_.model,
        train=TrainConfig(epochs=1, batch_size=64, seed=0),
        data=DataConfig(categorical_covariates=("batch",), unlabeled_category="Unassigned"),
    )
    own = biovae.SemiSupervisedVAE("nb", labels_key="type", config=cfg).fit(xr, marked)
    labels = oq["type"].copy()
    labels[1::2] = "Unassigned"
    plain = map_query(own, xq, {"batch": oq["batch"]}, epochs=1)
    none = map_query(
        own, xq, {"batch": oq["batch"], "type": np.full(200, "Unassigned", dtype=object)}, epochs=1
    )
    np.testing.assert_array_equal(none.transform(xq, oq), plain.transform(xq, oq))
    some = map_query(own, xq, {"batch": oq["batch"], "type": labels}, epochs=1)
    assert some.history_[-1]["loss"] + some.history_[-1]["elbo"] > 1.0
    bad = labels.copy()
    bad[-1] = "D"
    with pytest.raises(DataError, match="'Unassigned' or empty"):
        map_query(own, xq, {"batch": oq["batch"], "type": bad}, epochs=1)
