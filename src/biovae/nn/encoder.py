"""Gaussian encoder q(z|x) = N(μ(x), diag σ(x)²) and a deterministic point encoder."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn
from torch.distributions import Distribution, Independent, Normal

from biovae.config import NetworkConfig
from biovae.nn.memory import linear
from biovae.nn.mlp import MLP

#: Smallest posterior standard deviation: keeps log q finite and gradients bounded.
MIN_SCALE = 1e-4


def _seen(n_cov: int, cfg: NetworkConfig) -> int:
    """Covariate columns the encoder reads: none with ``cfg.encode_covariates`` off."""
    return n_cov if cfg.encode_covariates else 0


class GaussianEncoder(nn.Module):
    """MLP trunk with a location head and a scale head (softplus + floor, never exp).

    With ``cfg.encode_covariates`` off the covariates ``c`` are ignored: q(z|x) (scVI's default).
    """

    def __init__(self, n_in: int, n_cov: int, n_latent: int, cfg: NetworkConfig) -> None:
        super().__init__()
        self.sees_covariates = _seen(n_cov, cfg) > 0
        self.trunk = MLP(n_in, _seen(n_cov, cfg), cfg.hidden, cfg)
        self.loc = linear(self.trunk.out_features, n_latent)
        self.scale = linear(self.trunk.out_features, n_latent)

    def forward(self, x_nf: Tensor, c: Tensor | None) -> Distribution:
        h = self.trunk(x_nf, c if self.sees_covariates else None)
        scale = F.softplus(self.scale(h)) + MIN_SCALE
        return Independent(Normal(self.loc(h), scale, validate_args=False), 1, validate_args=False)


class PointEncoder(nn.Module):
    """Deterministic encoder of the plain autoencoder: z = f(x), returned as a point mass."""

    def __init__(self, n_in: int, n_cov: int, n_latent: int, cfg: NetworkConfig) -> None:
        super().__init__()
        self.sees_covariates = _seen(n_cov, cfg) > 0
        self.trunk = MLP(n_in, _seen(n_cov, cfg), cfg.hidden, cfg)
        self.loc = linear(self.trunk.out_features, n_latent)

    def forward(self, x_nf: Tensor, c: Tensor | None) -> Distribution:
        from biovae.priors import PointMass

        return PointMass(self.loc(self.trunk(x_nf, c if self.sees_covariates else None)))
