"""Labels are classes, as a scikit-learn classifier's are: a regression target (non-integer
numbers, scikit-learn's type "continuous") is refused in ``y``, an obs column, ``tl.vae`` and
the CLI, naming where and the fix; whole floats stay classes, NaN stays no label, a categorical
declares its numbers classes, and a 2-D ``y`` other than a column is refused."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import biovae
from biovae.config import FitConfig, ModelConfig, NetworkConfig, TrainConfig
from biovae.errors import DataError
from biovae.inputs import as_dataset
from biovae.models.labels import LabelSpec, fractional
from tests.cli._run import run, small_table

TINY = FitConfig(
    model=ModelConfig(n_latent=2, network=NetworkConfig(hidden=(4,))),
    train=TrainConfig(epochs=1, batch_size=32),
)
X = np.random.default_rng(0).normal(size=(40, 4)).astype(np.float32)
#: 40 labels 0.5 / 1.5 / 2.5, a NaN (no label) on every fifth record
HALVES = np.where(np.arange(40) % 5 == 0, np.nan, np.arange(40) % 3 + 0.5)
CONTINUOUS = "Unknown label type: continuous"


def test_fractional_marks_numbers_that_are_not_whole_and_nothing_else():
    values = np.array([0.5, 1.0, np.nan, np.inf, -2.0, "0.5", True, 3, None, -0.25], dtype=object)
    expected = [True, False, False, True, False, False, False, False, False, True]
    assert fractional(values).tolist() == expected
    floats = np.array([0.5, 1.0, np.nan, -np.inf, -2.0, 1e-9], dtype=np.float32)
    assert fractional(floats).tolist() == [True, False, False, True, False, True]


@pytest.mark.parametrize(
    "y",
    [
        np.random.default_rng(1).random(40),  # scikit-learn's check_classifiers_regression_target
        HALVES,  # NaN where unlabelled, the rest 0.5, 1.5, 2.5
        list(HALVES),
        pd.Series(HALVES, dtype="Float64"),  # pd.NA where unlabelled
        np.array(["a", "b", 0.5, "a"] * 10, dtype=object),  # text mixed with a measurement
    ],
    ids=["rand", "nan", "list", "Float64", "object"],
)
def test_a_continuous_y_is_refused_naming_y_and_the_fix(y):
    est = biovae.SemiSupervisedVAE(config=TINY)
    with pytest.raises(DataError, match=CONTINUOUS) as err:
        est.fit(X, y)
    assert "(y holds" in str(err.value) and "cast them to str" in str(err.value)
    assert "\n" not in str(err.value) and not hasattr(est, "model_")


def test_whole_floats_nan_text_and_categoricals_of_numbers_stay_classes():
    whole = np.where(np.isnan(HALVES), np.nan, HALVES + 0.5)  # 1.0, 2.0, 3.0 and NaN
    whole[1] = -1.0  # scikit-learn's unlabelled mark
    est = biovae.SemiSupervisedVAE(config=TINY).fit(X, whole)
    assert est.classes_.tolist() == [1.0, 2.0, 3.0]
    spec = est.schema_.labels
    assert int((spec.encode({"y": whole}) == -1).sum()) == 9  # 8 NaN and the -1
    text = np.where(np.isnan(HALVES), None, HALVES.astype(str)).astype(object)  # cast to str
    assert LabelSpec.fit({"y": text}, "y").levels == ("0.5", "1.5", "2.5")
    cat = pd.Categorical(HALVES)  # a categorical declares its numbers classes
    est = biovae.SemiSupervisedVAE(config=TINY).fit(X, cat)
    assert est.classes_.tolist() == [0.5, 1.5, 2.5]


@pytest.mark.parametrize(
    "y",
    [np.eye(3)[np.arange(40) % 3], np.c_[np.arange(40) % 2, np.arange(40) % 3]],
    ids=["one-hot", "multi-output"],
)
def test_a_2d_y_is_refused_naming_its_shape_and_the_fix(y):
    with pytest.raises(DataError, match=r"y has shape \(40, \d\).*y\.argmax\(1\)"):
        biovae.SemiSupervisedVAE(config=TINY).fit(X, y)
    column = (np.arange(40) % 2)[:, None]  # a column vector is raveled, as scikit-learn does
    assert biovae.SemiSupervisedVAE(config=TINY).fit(X, column).classes_.tolist() == [0, 1]


def test_an_obs_column_of_measurements_is_refused_unless_categorical():
    obs = pd.DataFrame({"dose": HALVES})
    est = biovae.SemiSupervisedVAE(config=TINY, labels_key="dose")
    with pytest.raises(DataError, match=CONTINUOUS + r" \(array: label column 'dose' holds 32"):
        est.fit(X, obs)
    ds = as_dataset(X, pd.DataFrame({"dose": pd.Categorical(HALVES)}))
    spec = LabelSpec.fit(ds.obs, "dose", declared=ds.categories["dose"])
    assert spec.levels == ("0.5", "1.5", "2.5")
    # a named marker that is itself a fraction is no label, not a measurement
    marked = np.where(np.isnan(HALVES), 0.25, np.arange(40) % 3)
    assert LabelSpec.fit({"y": marked}, "y", unlabeled=0.25).levels == ("0", "1", "2")


def test_tl_vae_refuses_a_float_obs_column_of_measurements():
    anndata = pytest.importorskip("anndata")
    adata = anndata.AnnData(np.random.default_rng(0).poisson(3.0, (40, 6)).astype(np.float32))
    adata.obs["dose"] = HALVES
    with pytest.raises(DataError, match=CONTINUOUS + r" \(AnnData: label column 'dose'"):
        biovae.tl.vae(adata, labels_key="dose", config=TINY)
    assert "X_biovae" not in adata.obsm


def test_cli_fit_refuses_a_label_column_of_measurements(tmp_path, capsys):
    table = small_table(tmp_path)
    obs = pd.DataFrame({"bmi": HALVES[: len(table)] + 20}, index=table.index)
    obs.to_csv(tmp_path / "obs.tsv", sep="\t")
    fit = ["fit", tmp_path / "d.tsv", "--obs", tmp_path / "obs.tsv", "--model", "ssvae"]
    fit += ["--labels-key", "bmi", "--epochs", "1", "--hidden", "4", "--latent", "2"]
    rc, _, err = run(capsys, *fit, "--out", tmp_path / "m")
    assert rc == 2 and "label column 'bmi' holds 24 non-integer numbers" in err
    assert "Traceback" not in err and not (tmp_path / "m").exists()
