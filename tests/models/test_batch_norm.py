"""Batch norm in encoder and decoder with importance samples: inputs shaped (S, n, width)."""

from __future__ import annotations

import numpy as np
import torch

import biovae
from biovae.config import FitConfig, ModelConfig, NetworkConfig, ObjectiveConfig, TrainConfig
from biovae.nn.mlp import FeatureBatchNorm


def _fit(iwae_samples: int = 1):
    x = np.random.default_rng(0).poisson(3, (200, 30)).astype(np.float32)
    cfg = FitConfig(
        model=ModelConfig(n_latent=3, network=NetworkConfig(hidden=(16,), norm="batch")),
        train=TrainConfig(epochs=2, seed=0),
        objective=ObjectiveConfig(iwae_samples=iwae_samples),
    )
    return x, biovae.VAE(likelihood="nb", config=cfg).fit(x)


def test_feature_batch_norm_pools_leading_dims_with_records():
    norm = FeatureBatchNorm(4)
    x = torch.randn(5, 7, 4) * 3 + 2
    out = norm(x)
    flat = x.reshape(-1, 4)
    expected = (flat - flat.mean(0)) / torch.sqrt(flat.var(0, unbiased=False) + norm.eps)
    torch.testing.assert_close(out, expected.reshape(5, 7, 4))
    norm.eval()  # running statistics: every sample normalised alike
    torch.testing.assert_close(norm(x)[2], norm(x[2]))


def test_decoding_several_samples_equals_decoding_each():
    _, est = _fit()
    z = torch.randn(4, 10, 3)
    with torch.no_grad():
        together = est.model_.decoder.params(z, None)["rho"]
        alone = torch.stack([est.model_.decoder.params(z[s], None)["rho"] for s in range(4)])
    torch.testing.assert_close(together, alone)


def test_iwae_training_and_scoring_with_batch_norm():
    x, est = _fit(iwae_samples=5)
    scores = est.score_samples(x[:10], iwae=20)
    assert scores.shape == (10,) and np.isfinite(scores).all()
