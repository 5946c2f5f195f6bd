"""scikit-learn's estimator conventions: clone, set_params, pipelines, n_features_in_."""

from __future__ import annotations

import numpy as np
import pytest

import biovae
from biovae.errors import ConfigError
from biovae.structure_estimator import ConformationVAE

sklearn = pytest.importorskip("sklearn")

X = np.random.default_rng(0).normal(size=(60, 5))
ESTIMATORS = [
    biovae.PCA(n_latent=2),
    biovae.VAE(n_latent=2, epochs=2, seed=3),
    biovae.Autoencoder(n_latent=2, epochs=2),
    biovae.SemiSupervisedVAE(labels_key="y", epochs=1),
    ConformationVAE(loss="mse"),
]


@pytest.mark.parametrize("est", ESTIMATORS, ids=lambda e: type(e).__name__)
def test_clone_keeps_every_parameter_and_set_params_checks_names(est):
    from sklearn.base import clone

    copy = clone(est)
    assert type(copy) is type(est) and copy.get_params() == est.get_params()
    assert copy.set_params(config=None) is copy
    with pytest.raises(ConfigError, match="unknown parameter 'n_components'"):
        copy.set_params(n_components=3)


@pytest.mark.parametrize("est", ESTIMATORS[:3], ids=lambda e: type(e).__name__)
def test_an_estimator_ends_a_pipeline_and_counts_its_features(est, tmp_path):
    from sklearn.base import clone
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    pipe = make_pipeline(StandardScaler(), clone(est)).fit(X)
    z = pipe.transform(X)
    scaled = StandardScaler().fit_transform(X)
    np.testing.assert_allclose(z, pipe[-1].transform(scaled), rtol=1e-6)
    assert z.shape == (60, 2) and pipe[-1].n_features_in_ == 5
    assert biovae.load_model(pipe[-1].save(tmp_path / "m")).n_features_in_ == 5
