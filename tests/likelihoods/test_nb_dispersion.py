"""Per-batch dispersion (``dispersion = "gene-batch"``): the density against scipy with each
record's batch row of θ, and recovery of known per-batch θ from synthetic NB counts."""

from __future__ import annotations

import json

import numpy as np
import pytest
import scipy.stats as st
import torch

from biovae import VAE, likelihoods
from biovae.config import (
    DataConfig,
    FitConfig,
    LikelihoodConfig,
    ModelConfig,
    NetworkConfig,
    TrainConfig,
)
from biovae.errors import ConfigError


@pytest.mark.parametrize("name", ["nb", "zinb"])
def test_each_record_uses_its_batch_row_of_theta(name):
    lik = likelihoods.build(LikelihoodConfig(name, dispersion="gene-batch"), (4,), n_batches=3)
    assert lik.global_params()["log_theta"].shape == (3, 4)
    g = torch.Generator().manual_seed(0)
    log_theta = torch.randn(3, 4, generator=g)
    batch = torch.tensor([2, 0, 1, 2, 0])
    params = {"rho": torch.randn(5, 4, generator=g), "log_theta": log_theta}
    if name == "zinb":
        params["pi_logits"] = torch.full((5, 4), -30.0)  # π ≈ 0: NB
    ctx = {"library": torch.full((5, 1), 50.0), "batch": torch.eye(3)[batch]}
    x = torch.poisson(torch.full((5, 4), 10.0), generator=g)
    got = lik.distribution(params, ctx).log_prob(x).double().numpy()
    mu = 50.0 * torch.softmax(params["rho"], -1).double().numpy()
    theta = log_theta.double().exp().numpy()[batch.numpy()]
    ref = st.nbinom.logpmf(x.numpy(), theta, theta / (theta + mu)).sum(-1)
    np.testing.assert_allclose(got, ref, rtol=1e-4)


def test_gene_batch_needs_a_batch_key_and_a_count_family():
    cfg = FitConfig(model=ModelConfig(likelihood=LikelihoodConfig("nb", dispersion="gene-batch")))
    x = np.ones((20, 3), dtype=np.float32)
    with pytest.raises(ConfigError, match="--batch-key"):
        VAE(config=cfg).fit(x)
    with pytest.raises(ConfigError, match="no per-batch"):
        likelihoods.build(LikelihoodConfig("poisson", dispersion="gene-batch"), (3,), n_batches=2)
    with pytest.raises(ConfigError, match="dispersion"):
        LikelihoodConfig("nb", dispersion="cell")


def _synthetic(theta_b: np.ndarray, n: int = 1500, genes: int = 100, seed: int = 0):
    """NB counts with a fixed composition per gene, library 2,000, θ of the cell's batch.

    Many genes, so the observed library (the model's plug-in for the expected one) is close to
    the expected library of every cell.
    """
    rng = np.random.default_rng(seed)
    batch = rng.integers(0, len(theta_b), n)
    mu = 2000.0 * rng.dirichlet(np.full(genes, 5.0))[None, :]
    theta = theta_b[batch][:, None]
    x = rng.poisson(rng.gamma(theta, mu / theta)).astype(np.float32)
    obs = {"batch": np.array([f"b{b}" for b in batch], dtype=object)}
    return x, obs


def test_recovers_known_per_batch_theta():
    # θ well inside the range where 750 cells per batch identify it (the NB likelihood flattens
    # as θ grows: θ = 20 vs Poisson is hard to tell apart at these means)
    truth = np.array([1.5, 6.0])
    x, obs = _synthetic(truth)
    cfg = FitConfig(
        model=ModelConfig(
            n_latent=2,
            likelihood=LikelihoodConfig("nb", dispersion="gene-batch"),
            network=NetworkConfig(hidden=(16,), dropout=0.0),
        ),
        train=TrainConfig(epochs=40, batch_size=64, lr=5e-2, validation_fraction=0.0, patience=0),
        data=DataConfig(batch_key="batch"),
    )
    est = VAE(config=cfg).fit(x, obs)
    theta = est.model_.decoder.shared["log_theta"].detach().double().exp().numpy()
    assert theta.shape == (2, 100)
    assert est.schema_.covariates.categories[0] == ("b0", "b1")
    # geometric mean over genes within 10 % of the truth, every gene within a factor 1.4
    gmean = np.exp(np.log(theta).mean(1))
    np.testing.assert_allclose(gmean, truth, rtol=0.10)
    assert np.all(np.abs(np.log(theta / truth[:, None])) < np.log(1.4))


def test_gene_batch_model_survives_save_and_load(tmp_path):
    from biovae.estimator import load_model

    x, obs = _synthetic(np.array([1.0, 4.0]), n=60, genes=8)
    cfg = FitConfig(
        model=ModelConfig(
            n_latent=2,
            likelihood=LikelihoodConfig("zinb", dispersion="gene-batch"),
            network=NetworkConfig(hidden=(8,)),
        ),
        train=TrainConfig(epochs=2, batch_size=32, validation_fraction=0.0, patience=0),
        data=DataConfig(batch_key="batch"),
    )
    est = VAE(config=cfg).fit(x, obs)
    est.save(tmp_path / "m")
    back = load_model(tmp_path / "m")
    assert back.model_.decoder.shared["log_theta"].shape == (2, 8)
    np.testing.assert_allclose(back.score_samples(x, obs), est.score_samples(x, obs), rtol=1e-6)


def test_weights_of_an_older_parametrisation_give_a_clear_error(tmp_path):
    from safetensors.torch import load_file, save_file

    from biovae.estimator import load_model

    x, _ = _synthetic(np.array([1.0, 4.0]), n=40, genes=6)
    cfg = FitConfig(
        model=ModelConfig(n_latent=2, likelihood=LikelihoodConfig("nb")),
        train=TrainConfig(epochs=1, validation_fraction=0.0, patience=0),
    )
    VAE(config=cfg).fit(x).save(tmp_path / "m")
    path = tmp_path / "m" / "weights.safetensors"
    weights = load_file(str(path))
    weights["decoder.shared.theta"] = weights.pop("decoder.shared.log_theta")  # softplus era
    save_file(weights, str(path), metadata={"format": "biovae"})
    meta_path = tmp_path / "m" / "metadata.json"  # saved before the weights' SHA-256 was kept
    meta = json.loads(meta_path.read_text())
    del meta["weights_sha256"]
    meta_path.write_text(json.dumps(meta))
    (tmp_path / "m" / "SHA256SUMS").unlink()  # nor a manifest
    with pytest.raises(ConfigError, match="refit the model"):
        load_model(tmp_path / "m")
