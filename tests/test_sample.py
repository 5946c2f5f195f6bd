"""Generating records in Python (``est.sample(n, obs=..., seed=...)``): the covariates of
``obs`` are taken by a conditional model and refused, not ignored, by any other."""

from __future__ import annotations

import numpy as np
import pytest

import biovae
from biovae.config import (
    DataConfig,
    FitConfig,
    LikelihoodConfig,
    ModelConfig,
    NetworkConfig,
    TrainConfig,
)
from biovae.diagnose import fidelity_comparison
from biovae.errors import ConfigError
from biovae.inputs import as_dataset


@pytest.fixture(scope="module")
def counts():
    rng = np.random.default_rng(0)
    x = rng.poisson(rng.uniform(1, 20, (40, 6))).astype(np.float32)
    return x, {"batch": np.repeat(["a", "b"], 20)}


def test_a_model_without_covariates_refuses_obs_for_its_samples(counts):
    """``VAE().fit(x).sample(5, obs={"batch": ...})`` returned samples that ignored obs (the
    command line refuses --obs for such a model); PCA ignored it too."""
    x, obs = counts
    five = {"batch": np.array(["a", "a", "b", "b", "a"])}
    vae = biovae.VAE(likelihood="nb", n_latent=2, hidden=(8,), epochs=1, seed=0).fit(x)
    pca = biovae.PCA(n_latent=2, likelihood="nb").fit(x)
    for est in (vae, pca):
        with pytest.raises(ConfigError, match=r"not conditional on any.*batch.*leave obs out"):
            est.sample(5, obs=five)
        assert est.sample(5, seed=1).shape == (5, 6)
    cfg = FitConfig(data=DataConfig(categorical_covariates=("batch",)))
    cond = biovae.VAE(likelihood="nb", n_latent=2, hidden=(8,), epochs=1, seed=0, config=cfg)
    cond.fit(x, obs)
    assert cond.sample(5, obs=five, seed=1).shape == (5, 6)


def test_the_fidelity_comparison_samples_pca_of_a_conditional_config(counts):
    """The diagnose fidelity comparison passes the conditional VAE's covariates on, but not to
    the PCA baseline, which has none."""
    x, obs = counts
    pick = np.r_[0:15, 20:35]  # both batches in training and held out
    rest = np.setdiff1d(np.arange(40), pick)
    train = as_dataset(x[pick], {"batch": obs["batch"][pick]})
    held_out = as_dataset(x[rest], {"batch": obs["batch"][rest]})
    cfg = FitConfig(
        model=ModelConfig(
            likelihood=LikelihoodConfig(name="nb"), n_latent=2, network=NetworkConfig((8,))
        ),
        train=TrainConfig(epochs=1, batch_size=16),
        data=DataConfig(categorical_covariates=("batch",)),
    )
    assert set(fidelity_comparison(train, held_out, cfg)) == {"VAE", "autoencoder", "PCA"}


def test_count_samples_take_the_library_sizes_of_their_batch():
    """Library sizes of generated counts came from one log-normal fitted to every record, so
    a sample of a shallow batch had the sequencing depth of the pooled data."""
    rng = np.random.default_rng(1)
    profile = rng.dirichlet(np.ones(8))
    depth = np.r_[np.full(60, 50.0), np.full(60, 5000.0)] * rng.lognormal(0, 0.1, 120)
    x = rng.poisson(depth[:, None] * profile).astype(np.float32)
    obs = {"batch": np.repeat(["shallow", "deep"], 60)}
    cfg = FitConfig(
        model=ModelConfig(n_latent=2, network=NetworkConfig(hidden=(8,))),
        train=TrainConfig(epochs=2, batch_size=32),
        data=DataConfig(batch_key="batch"),
    )
    est = biovae.VAE(likelihood="nb", config=cfg).fit(x, obs)
    for level, expected in (("shallow", 50.0), ("deep", 5000.0)):
        drawn = est.sample(200, obs={"batch": np.full(200, level)}, seed=0).sum(1)
        assert abs(np.log(np.median(drawn) / expected)) < 0.5, (level, np.median(drawn))
