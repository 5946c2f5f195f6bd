"""``diagnose`` refuses what it cannot diagnose with one line that says why."""

from __future__ import annotations

import numpy as np
import pytest

import biovae
from biovae.diagnose import diagnose
from biovae.errors import ConfigError, NotFittedError

X = np.random.default_rng(0).normal(size=(20, 4)).astype(np.float32)


@pytest.mark.parametrize("cls", [biovae.VAE, biovae.SemiSupervisedVAE])
def test_an_unfitted_vae_is_not_fitted_yet_rather_than_not_a_vae(cls):
    # it said "diagnostics need a VAE (the autoencoder and PCA have no posterior)" of a VAE
    with pytest.raises(NotFittedError, match=f"this {cls.__name__} is not fitted yet"):
        diagnose(cls(), X)


def test_models_without_a_posterior_need_a_vae():
    ae = biovae.Autoencoder("gaussian", n_latent=2, hidden=(8,), epochs=1, seed=0).fit(X)
    for est in (ae, biovae.Autoencoder(), biovae.PCA(2).fit(X), biovae.PCA(2)):
        with pytest.raises(ConfigError, match="diagnostics need a VAE") as info:
            diagnose(est, X)
        assert not isinstance(info.value, NotFittedError)
