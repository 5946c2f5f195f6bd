"""Generating records in Python (``est.sample(n, obs=..., seed=...)``): the covariates of
``obs`` are taken by a conditional model and refused, not ignored, by any other."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.distributions import Independent, Normal

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


@pytest.fixture(scope="module")
def ssvae(counts):
    """A semi-supervised VAE of the counts, labels 'B cell' / 'T cell' (some unlabelled)."""
    x, _ = counts
    cell = np.array(["B cell", "T cell", "unknown"], dtype=object)[np.arange(len(x)) % 3]
    cfg = FitConfig(model=ModelConfig(n_latent=2, network=NetworkConfig(hidden=(8,))))
    est = biovae.SemiSupervisedVAE(labels_key="cell", likelihood="nb", epochs=1, config=cfg)
    return est.fit(x, {"cell": cell})


def _decoded_by_hand(est, z_of_noise, n: int, seed: int) -> np.ndarray:
    """x ~ p(x|z) with z = z_of_noise(ε), ε ~ N(0, I) the first n × k normal draws of ``seed``,
    then the library sizes and the decoder's draws, from the model's parts."""
    model = est.model_
    with torch.random.fork_rng(), torch.no_grad():
        torch.manual_seed(seed)
        z = z_of_noise(torch.randn(n, model.n_latent))
        ctx = model.likelihood.prior_context(n, est.schema_.context_stats)
        return model.decode(z, None, ctx).sample().numpy()


def test_samples_of_a_label_decode_draws_of_its_class_prior(ssvae):
    """``sample(n, label=y)`` raised TypeError (no way to generate records of one label); it
    decodes z = μ_y + ε, ε ~ N(0, I): z ~ p(z|y) of the M2 / scANVI generative model."""
    means = ssvae.model_.class_means.detach()
    for y, level in enumerate(ssvae.classes_):
        expected = _decoded_by_hand(ssvae, lambda eps, y=y: means[y] + eps, 50, seed=3)
        np.testing.assert_array_equal(ssvae.sample(50, seed=3, label=level), expected)


def test_samples_without_a_label_still_come_from_the_mixture_prior(ssvae):
    """label=None keeps the draws of before: z ~ Σ_y N(μ_y, I) / C, as the seed gave them."""
    model = ssvae.model_
    with torch.random.fork_rng(), torch.no_grad():
        torch.manual_seed(5)
        z = model.prior().sample((40,))
        ctx = model.likelihood.prior_context(40, ssvae.schema_.context_stats)
        expected = model.decode(z, None, ctx).sample().numpy()
    np.testing.assert_array_equal(ssvae.sample(40, seed=5), expected)
    np.testing.assert_array_equal(ssvae.sample(40, seed=5, label=None), expected)


def test_a_decoder_that_shows_z_gives_each_label_its_own_gaussian(ssvae, monkeypatch):
    """With class means ±6 on the first axis and a decoder that returns z itself, records of a
    label are N(μ_y, I) (mean within 5 standard errors, covariance within 0.1 of I) and all lie
    on their label's side; without a label half lie on each side (uniform p(y))."""
    model = ssvae.model_
    mu = torch.tensor([[6.0, 0.0], [-6.0, 0.0]])
    monkeypatch.setattr(model, "class_means", torch.nn.Parameter(mu))
    monkeypatch.setattr(model, "decode", lambda z, c, ctx: Independent(Normal(z, 1e-6), 1))
    n = 4000
    for y, level in enumerate(ssvae.classes_):
        z = ssvae.sample(n, seed=y, label=level)
        assert np.abs(z.mean(0) - mu[y].numpy()).max() < 5 / np.sqrt(n)
        assert np.abs(np.cov(z.T) - np.eye(2)).max() < 0.1
        assert (np.sign(z[:, 0]) == np.sign(mu[y, 0].item())).all()
    share = (ssvae.sample(n, seed=7)[:, 0] > 0).mean()
    assert abs(share - 0.5) < 5 * 0.5 / np.sqrt(n)


def test_an_unknown_label_is_refused_naming_the_classes(ssvae, counts):
    """A label the model has no class for is a one-line ConfigError naming its classes; a
    number names the level spelled so; a plain VAE has no ``label`` to ignore."""
    with pytest.raises(ConfigError, match=r"'NK cell' is none of .* 2 classes .*'B cell', 'T c"):
        ssvae.sample(3, label="NK cell")
    x = counts[0]
    cfg = FitConfig(model=ModelConfig(n_latent=2, network=NetworkConfig(hidden=(8,))))
    est = biovae.SemiSupervisedVAE(labels_key="k", likelihood="nb", epochs=1, config=cfg)
    est.fit(x, {"k": np.arange(len(x)) % 2 + 1})
    assert tuple(est.classes_) == ("1", "2")
    np.testing.assert_array_equal(est.sample(3, label=2), est.sample(3, label="2"))
    assert not np.array_equal(est.sample(3, label=2), est.sample(3, label=1))
    with pytest.raises(ConfigError, match=r"label 3 is none"):
        est.sample(3, label=3)
    vae = biovae.VAE(likelihood="nb", n_latent=2, hidden=(8,), epochs=1, seed=0).fit(counts[0])
    with pytest.raises(TypeError, match="label"):
        vae.sample(3, label="B cell")
