"""Covariate encoding: one-hot levels and standardised continuous values."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

from biovae.errors import DataError
from biovae.models.covariates import CovariateSpec
from biovae.models.schema import DataSchema


@pytest.mark.parametrize("value", [0.0, 0.1, 1 / 3, 7.7, -2e5])
def test_a_constant_continuous_covariate_is_centred_not_blown_up(value):
    """The standard deviation of 1,000 copies of 0.1 is 1.4e-17, not 0: dividing by it put a
    new value 1 away from the training one at 7e16 (it must stay at 1)."""
    spec = CovariateSpec.fit({"dose": np.full(1000, value)}, continuous=("dose",))
    assert spec.stds == (1.0,)
    with pytest.warns(UserWarning, match="outside its training range"):  # value + 1 is
        c = spec.encode({"dose": np.array([value, value + 1.0])}, 2).numpy().ravel()
    np.testing.assert_allclose(c, [0.0, 1.0], atol=1e-9)


def test_continuous_covariates_are_standardised_with_the_training_moments():
    age = np.array([20.0, 30.0, 40.0, 50.0])
    spec = CovariateSpec.fit({"age": age, "b": np.array(list("xyxz"))}, ("b",), ("age",))
    c = spec.encode({"age": np.array([35.0, 46.18]), "b": np.array(["z", "x"])}, 2).numpy()
    np.testing.assert_array_equal(c[:, :3], [[0, 0, 1], [1, 0, 0]])
    np.testing.assert_allclose(c[:, 3], (np.array([35.0, 46.18]) - 35.0) / age.std(), rtol=1e-6)


def test_a_categorical_covariate_of_nearly_one_level_per_record_is_warned_of():
    """pbmc's n_counts given as a batch key became 150 one-hot levels for 150 cells, silently."""
    counts = np.arange(150.0) * 7 + 300
    with pytest.warns(UserWarning, match=r"'n_counts' has 150 levels among 150 records"):
        CovariateSpec.fit({"n_counts": counts}, ("n_counts",), source="pbmc.h5ad")
    with warnings.catch_warnings():  # 30 donors among 3,000 cells is a real batch
        warnings.simplefilter("error")
        CovariateSpec.fit({"donor": np.repeat(np.arange(30), 100)}, ("donor",))


def test_a_continuous_value_outside_the_training_range_is_encoded_with_a_warning():
    """The range is saved with the model: a new value beyond it is still standardised with the
    training moments (the network extrapolates), and a warning names the record."""
    age = np.array([20.0, 30.0, 40.0, 50.0])
    spec = CovariateSpec.fit({"age": age}, continuous=("age",))
    assert (spec.lows, spec.highs) == ((20.0,), (50.0,))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        spec.encode({"age": np.array([20.0, 50.0])}, 2, "new.tsv")  # the bounds: no warning
    with pytest.warns(UserWarning, match=r"new.tsv: continuous covariate 'age' is outside its "
                      r"training range \[20, 50\] for 2 record\(s\) \(furthest: 90 in record 3 "
                      r"\('c'\)"):  # fmt: skip
        c = spec.encode({"age": np.array([35.0, 10.0, 90.0])}, 3, "new.tsv", ids=["a", "b", "c"])
    np.testing.assert_allclose(c.numpy().ravel(), (np.array([35.0, 10.0, 90.0]) - 35) / age.std())


def test_the_range_survives_the_schema_round_trip_and_an_old_schema_is_not_checked():
    spec = CovariateSpec.fit({"dose": np.array([1.0, 2.0, 4.0])}, continuous=("dose",))
    schema = DataSchema((3,), covariates=spec)
    assert DataSchema.from_dict(json.loads(json.dumps(schema.to_dict()))).covariates == spec
    old = schema.to_dict()
    del old["covariates"]["lows"], old["covariates"]["highs"]  # saved before ranges were kept
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        DataSchema.from_dict(old).covariates.encode({"dose": np.array([9.0])}, 1)


def test_a_non_numeric_continuous_value_is_named_with_its_record():
    spec = CovariateSpec.fit({"age": np.array([20.0, 30.0])}, continuous=("age",))
    values = np.array(["31", "n/a", "40"], dtype=object)
    with pytest.raises(DataError, match=r"meta.tsv: continuous covariate 'age' has the "
                       r"non-numeric value 'n/a' in record 2 \('s2'\)"):  # fmt: skip
        spec.encode({"age": values}, 3, "meta.tsv", ids=["s1", "s2", "s3"])


def test_with_level_sets_one_categorical_block_and_keeps_the_rest():
    obs = {"b": np.array(list("xyz")), "d": np.array(list("pqp")), "age": np.array([1.0, 2, 3])}
    spec = CovariateSpec.fit(obs, ("b", "d"), ("age",))
    c = spec.encode(obs, 3)
    moved = spec.with_level(c, "d", 1)
    expected = spec.encode({**obs, "d": np.array(list("qqq"))}, 3)
    np.testing.assert_array_equal(moved.numpy(), expected.numpy())
    np.testing.assert_array_equal(c.numpy(), spec.encode(obs, 3).numpy())  # c is not changed


def test_an_unseen_or_missing_level_names_its_record_and_a_fix_that_works():
    """An unseen level named no record; a missing one was to be filled with 'unknown', itself
    a level the fitted model has not seen (the next run failed on it)."""
    spec = CovariateSpec.fit({"b": np.array(["p1", "p2"])}, ("b",))
    ids = ["s1", "s2", "s3"]
    with pytest.raises(DataError, match=r"level 'p9' not seen in training \(record 3 \('s3'\)"):
        spec.encode({"b": np.array(["p1", "p2", "p9"])}, 3, "meta.tsv", ids=ids)
    with pytest.raises(DataError, match=r"fill it in with a level seen in training \(p1, p2\)"):
        spec.encode({"b": np.array(["p1", "", "p2"])}, 3, "meta.tsv", ids=ids)
