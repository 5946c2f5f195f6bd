"""One spelling per categorical level, whatever type a column arrives in (biovae.levels), and
what covariates, labels, groups and sample() make of it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import biovae
from biovae.config import DataConfig, FitConfig, ModelConfig, NetworkConfig, TrainConfig
from biovae.errors import ConfigError, DataError
from biovae.levels import aliases, level_text
from biovae.models.covariates import CovariateSpec
from biovae.models.labels import LabelSpec


def test_level_text_spells_each_level_once():
    got = level_text([0, 1.0, np.int64(2), np.float32(3.0), 2.5, True, np.bool_(False), "a"])
    assert list(got) == ["0", "1", "2", "3", "2.5", "True", "False", "a"]
    assert list(level_text([None, np.nan, pd.NA, ""])) == ["", "", "", ""]


def test_levels_saved_with_a_decimal_point_are_still_found():
    assert aliases(("0.0", "1.0", "x.0", "-2.0")) == {
        "0.0": 0, "1.0": 1, "x.0": 2, "-2.0": 3, "0": 0, "1": 1, "-2": 3,
    }  # fmt: skip
    spec = CovariateSpec(("batch",), (("0.0", "1.0"),))
    assert spec.encode({"batch": np.array([1, 0])}, 2).tolist() == [[0, 1], [1, 0]]


def test_integer_and_float_codes_of_one_batch_encode_alike():
    ints = {"batch": np.array([0, 1, 1])}
    spec = CovariateSpec.fit(ints, categorical=("batch",))
    assert spec.categories == (("0", "1"),)
    floats = spec.encode({"batch": np.array([0.0, 1.0, 1.0])}, 3)
    assert floats.tolist() == spec.encode(ints, 3).tolist()


def test_a_batch_as_float_categories_is_the_batch_read_as_numbers():
    """An AnnData column of categories 1.0/2.0 (a float column made categorical) read as levels
    "1.0"/"2.0": a model fitted on the batch as numbers refused it as an unseen level."""
    from biovae.inputs import as_dataset

    spec = CovariateSpec.fit({"batch": np.array([1, 2, 2])}, categorical=("batch",))
    frame = pd.DataFrame({"batch": pd.Categorical([1.0, 2.0, 2.0])})
    ds = as_dataset(np.ones((3, 2)), frame)
    assert list(ds.obs["batch"]) == ["1", "2", "2"]
    assert spec.encode(ds.obs, 3).tolist() == [[1, 0], [0, 1], [0, 1]]


def test_a_missing_covariate_or_a_wrong_length_is_refused():
    with pytest.raises(DataError, match=r"'batch' is missing for record 2 \(2 records"):
        CovariateSpec.fit({"batch": np.array(["a", None, np.nan], dtype=object)}, ("batch",))
    ids = np.array(["c1", "c2", "c3"])
    with pytest.raises(DataError, match=r"'batch' is missing for record 2 \('c2'\) \(2 records"):
        CovariateSpec.fit({"batch": np.array(["a", None, None])}, ("batch",), ids=ids)
    with pytest.raises(DataError, match=r"'depth' is missing or not finite in record 3 \('c3'\)"):
        CovariateSpec.fit({"depth": np.array([1.0, 2.0, np.nan])}, (), ("depth",), ids=ids)
    spec = CovariateSpec.fit({"batch": np.array(["a", "b"])}, ("batch",))
    with pytest.raises(DataError, match=r"1 value\(s\) for 3 records"):
        spec.encode({"batch": np.array(["a"])}, 3)


def test_missing_labels_are_unlabelled_not_a_level():
    values = pd.array(["x", pd.NA, "y", None, "x"], dtype="string")
    spec = LabelSpec.fit({"y": np.asarray(values, dtype=object)}, "y")
    assert spec.levels == ("x", "y")
    codes = spec.encode({"y": np.asarray(values, dtype=object)})
    assert codes.tolist() == [0, -1, 1, -1, 0]


def test_an_unlabelled_category_is_any_scalar_naming_a_level():
    values = np.array([0, -1, 1, -1, 0])
    for unlabeled in (-1, -1.0, np.int64(-1), "-1", "-1.0"):
        spec = LabelSpec.fit({"y": values}, "y", unlabeled=unlabeled)
        assert spec.levels == ("0", "1") and spec.unlabeled == "-1"
        assert spec.encode({"y": values}).tolist() == [0, -1, 1, -1, 0]
    assert DataConfig(unlabeled_category=-1).unlabeled_category == "-1"  # JSON-safe as text
    assert DataConfig(unlabeled_category=" Unknown ").unlabeled_category == " Unknown "


def test_an_unlabelled_category_found_in_no_record_is_refused_not_ignored():
    values = np.array(["B", "Unassigned", "T", "Unassigned", "B"], dtype=object)
    with pytest.raises(DataError, match=r"unlabeled category 'Unasigned' matches no entry"):
        LabelSpec.fit({"y": values}, "y", unlabeled="Unasigned")  # was: a class 'Unassigned'
    assert LabelSpec.fit({"y": values}, "y", unlabeled="unassigned").levels == ("B", "T")
    with pytest.raises(DataError, match=r"unlabeled category '-2' matches no entry"):
        LabelSpec.fit({"y": np.array([0, -1, 1])}, "y", unlabeled=-2)
    # the usual spellings of "no label" may name none (scANVI's "Unknown" beside NaN labels)
    assert LabelSpec.fit({"y": values[[0, 2]]}, "y", unlabeled="Unknown").levels == ("B", "T")


def test_an_unlabelled_category_the_column_declares_but_no_record_holds_is_accepted():
    values = np.array(["B", "T", "B"], dtype=object)  # a subset that kept only labelled cells
    declared = ("B", "T", "Unassigned")  # its pandas categories, "Unassigned" unused
    spec = LabelSpec.fit({"y": values}, "y", unlabeled="Unassigned", declared=declared)
    assert spec.levels == ("B", "T") and spec.unlabeled == "Unassigned"
    assert spec.encode({"y": np.array(["T", "Unassigned"], dtype=object)}).tolist() == [1, -1]
    # a typo is still refused, even beside a declared "Unknown" (a usual spelling)
    with pytest.raises(DataError, match=r"unlabeled category 'Unasigned' matches no entry"):
        LabelSpec.fit({"y": values}, "y", unlabeled="Unasigned", declared=(*declared, "Unknown"))


@pytest.mark.parametrize("twin", ["t cell", "T cell ", " T CELL"])
def test_labels_differing_only_in_case_or_spaces_are_refused_not_two_classes(twin):
    values = np.array(["T cell", "B cell", twin, "unknown"], dtype=object)
    with pytest.raises(DataError, match=r"labels .* in column 'y' differ only in letter case"):
        LabelSpec.fit({"y": values}, "y")
    assert LabelSpec.fit({"y": values[:2]}, "y").levels == ("B cell", "T cell")


def test_tl_vae_takes_a_numeric_unlabelled_category(tmp_path):
    anndata = pytest.importorskip("anndata")
    rng = np.random.default_rng(0)
    adata = anndata.AnnData(rng.poisson(3.0, size=(40, 6)).astype(np.float32))
    adata.obs["lab"] = np.where(np.arange(40) % 4 == 0, np.arange(40) % 3, -1)
    cfg = FitConfig(
        model=ModelConfig(n_latent=2, network=NetworkConfig(hidden=(8,))),
        train=TrainConfig(epochs=1, batch_size=32),
    )
    est = biovae.tl.vae(adata, labels_key="lab", unlabeled_category=-1, config=cfg)
    assert tuple(est.classes_) == ("0", "1", "2")
    est.save(tmp_path / "m")
    assert biovae.load_model(tmp_path / "m").config_.data.unlabeled_category == "-1"


@pytest.fixture(scope="module")
def counts():
    rng = np.random.default_rng(0)
    x = rng.poisson(3.0, size=(60, 8)).astype(np.float32)
    obs = pd.DataFrame({"flag": np.arange(60) % 2 == 0, "code": np.arange(60) % 2})
    return x, obs


def _cfg(key):
    return FitConfig(
        model=ModelConfig(n_latent=2, network=NetworkConfig(hidden=(8,))),
        train=TrainConfig(epochs=1, batch_size=32),
        data=DataConfig(batch_key=key),
    )


@pytest.mark.parametrize(("key", "levels"), [("flag", [True, False]), ("code", [0, 1])])
def test_boolean_and_integer_batches_sample_with_their_own_values(counts, key, levels):
    x, obs = counts
    est = biovae.VAE("poisson", config=_cfg(key)).fit(x, obs)
    assert est.sample(2, obs={key: np.array(levels)}).shape == (2, 8)
    np.testing.assert_array_equal(est.transform(x, obs), est.transform(x, obs.astype(str)))
    with pytest.raises(DataError, match=r"1 value\(s\) for 3 records"):
        est.sample(3, obs={key: levels[0]})
    with pytest.raises(ConfigError, match="positive whole number"):
        est.sample(0, obs={key: np.array(levels)})


def test_levels_of_earlier_models_and_users_spellings_are_found():
    from biovae.levels import find_level

    assert aliases(("0.0", "1.0"))["True"] == 1 and aliases(("0.0", "1.0"))["False"] == 0
    assert find_level("1.0", ("0", "1", "2")) == "1" and find_level(1, ("0.0", "1.0")) == "1.0"
    assert find_level("x", ("a", "b")) is None and find_level("01", ("01", "02")) == "01"


def test_repeated_dataframe_columns_and_an_earlier_models_repeated_names(counts):
    from biovae.inputs import as_dataset, check_features
    from biovae.models.schema import DataSchema

    x, _ = counts
    frame = pd.DataFrame(x[:, :4], columns=["g1", "g2", "g3", "g3"])
    with pytest.warns(UserWarning, match="renamed g3-1"):
        ds = as_dataset(frame)
    assert ds.features == ("g1", "g2", "g3", "g3-1")
    old = DataSchema((4,), ("g1", "g2", "g3", "g3"), None)  # saved before names were made unique
    check_features(ds, old)  # no error: the same renaming on both sides
