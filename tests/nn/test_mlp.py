"""MLP blocks: covariates reach every draw of z, with or without hidden layers."""

from __future__ import annotations

import pytest
import torch

from biovae import likelihoods
from biovae.config import LikelihoodConfig, ModelConfig, NetworkConfig
from biovae.models.vae import LatentVariableModel
from biovae.nn import MLP
from biovae.objectives import Batch, iwae_log_weights


@pytest.mark.parametrize("hidden", [(), (5,)])
def test_covariates_broadcast_over_draws_of_z(hidden):
    torch.manual_seed(0)
    mlp = MLP(3, 2, hidden, NetworkConfig(dropout=0.0, norm="none"))
    z_snk, c_nd = torch.randn(4, 6, 3), torch.randn(6, 2)
    out = mlp(z_snk, c_nd)
    assert out.shape == (4, 6, mlp.out_features)
    for s in range(4):  # the same as decoding each draw on its own
        torch.testing.assert_close(out[s], mlp(z_snk[s], c_nd))


def test_linear_decoder_with_covariates_gives_iwae_weights():
    """LDVAE's decoder has no hidden layer: K draws of z met the covariates of n records in a
    plain concatenation, which failed ("Tensors must have same number of dimensions")."""
    torch.manual_seed(0)
    lik = likelihoods.build(LikelihoodConfig("nb"), (7,))
    cfg = ModelConfig(n_latent=2, network=NetworkConfig(hidden=(8,), decoder="linear"))
    model = LatentVariableModel(lik, 3, cfg).eval()
    x = torch.poisson(torch.full((5, 7), 4.0))
    c = torch.eye(3)[torch.tensor([0, 1, 2, 0, 1])]
    with torch.no_grad():
        log_w = iwae_log_weights(model, Batch(x, c), 4)
    assert log_w.shape == (4, 5) and torch.isfinite(log_w).all()
