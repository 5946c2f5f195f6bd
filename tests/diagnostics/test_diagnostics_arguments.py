"""The model-level diagnostics called from Python with wrong arguments: one clear line each
(they raised TypeError, AttributeError or ZeroDivisionError, or went on silently)."""

from __future__ import annotations

import numpy as np
import pytest

import biovae
from biovae.diagnostics.amortization import amortization_gap
from biovae.diagnostics.likelihood import log_likelihood
from biovae.diagnostics.rate_distortion import rate_distortion
from biovae.errors import ConfigError

X = np.random.default_rng(0).normal(size=(12, 4)).astype(np.float32)


@pytest.fixture(scope="module")
def vae():
    return biovae.VAE("gaussian", n_latent=2, hidden=(8,), epochs=1, seed=0, progress=False).fit(X)


@pytest.fixture(scope="module")
def ae():
    return biovae.Autoencoder(
        "gaussian", n_latent=2, hidden=(8,), epochs=1, seed=0, progress=False
    ).fit(X)


@pytest.mark.parametrize(
    "call",
    [
        lambda est: log_likelihood(est, X, k=5),  # was TypeError: not iterable
        lambda est: amortization_gap(est, X, steps=1, k=5),  # was AttributeError
        lambda est: rate_distortion(est, X),  # was TypeError
    ],
)
def test_the_estimator_itself_is_refused_naming_its_network_and_batches(vae, call):
    with pytest.raises(ConfigError, match=r"est\.model_ and est\.batches\(data\)"):
        call(vae)


def test_an_autoencoder_network_has_no_posterior_for_the_gap(ae):
    # it raised AttributeError: 'PointMass' object has no attribute 'base_dist'
    with pytest.raises(ConfigError, match="amortization_gap needs a VAE"):
        amortization_gap(ae.model_, ae.batches(X), steps=1, k=5)


@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda m, b: log_likelihood(m, b, k=0), "k"),
        (lambda m, b: amortization_gap(m, b, steps=-1, k=5), "steps"),  # was run as 0 steps
        (lambda m, b: amortization_gap(m, b, steps=1, eval_samples=0, k=5), "eval_samples"),
        (lambda m, b: rate_distortion(m, b, n_samples=0), "n_samples"),  # ZeroDivisionError
    ],
)
def test_counts_below_their_minimum_are_refused_by_name(vae, call, name):
    with pytest.raises(ConfigError, match=rf"{name}\b.* must be a whole number >= [01], not "):
        call(vae.model_, vae.batches(X))
