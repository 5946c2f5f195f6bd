"""Covariate encoding: one-hot levels and standardised continuous values."""

from __future__ import annotations

import numpy as np
import pytest

from biovae.models.covariates import CovariateSpec


@pytest.mark.parametrize("value", [0.0, 0.1, 1 / 3, 7.7, -2e5])
def test_a_constant_continuous_covariate_is_centred_not_blown_up(value):
    """The standard deviation of 1,000 copies of 0.1 is 1.4e-17, not 0: dividing by it put a
    new value 1 away from the training one at 7e16 (it must stay at 1)."""
    spec = CovariateSpec.fit({"dose": np.full(1000, value)}, continuous=("dose",))
    assert spec.stds == (1.0,)
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
    import warnings

    with warnings.catch_warnings():  # 30 donors among 3,000 cells is a real batch
        warnings.simplefilter("error")
        CovariateSpec.fit({"donor": np.repeat(np.arange(30), 100)}, ("donor",))
