"""Decoder: z (and covariates) → raw likelihood parameters → p(x|z)."""

from __future__ import annotations

import dataclasses

from torch import Tensor, nn
from torch.distributions import Distribution

from biovae.config import NetworkConfig
from biovae.likelihoods import Likelihood
from biovae.nn.mlp import MLP


class Decoder(nn.Module):
    """MLP trunk with one linear head per per-observation output of the likelihood.

    Shared parameters of the likelihood (``global_params``, e.g. gene-wise dispersion) are
    learned here as ``nn.Parameter``s; the likelihood turns raw values into a distribution.
    The trunk's dropout is ``cfg.decoder_dropout``; ``cfg.decoder == "linear"`` leaves the trunk
    out, so each head is one affine map of (z, c) (LDVAE). A likelihood with per-batch parameters
    (``n_batches`` > 0) gets the batch one-hot, the first ``n_batches`` columns of ``c``
    (``data.batch_key`` is encoded first), as ``context["batch"]``.
    """

    def __init__(self, likelihood: Likelihood, n_cov: int, n_latent: int, cfg: NetworkConfig):
        super().__init__()
        self.likelihood = likelihood
        trunk_cfg = dataclasses.replace(cfg, dropout=cfg.decoder_dropout)
        hidden = () if cfg.decoder == "linear" else tuple(reversed(cfg.hidden))
        self.trunk = MLP(n_latent, n_cov, hidden, trunk_cfg)
        self.shapes = likelihood.outputs()
        self.heads = nn.ModuleDict(
            {
                name: nn.Linear(self.trunk.out_features, _numel(shape))
                for name, shape in self.shapes.items()
            }
        )
        self.shared = nn.ParameterDict(
            {name: nn.Parameter(v.clone()) for name, v in likelihood.global_params().items()}
        )
        self.n_batches = likelihood.n_batches
        if self.n_batches > n_cov:
            raise ValueError(f"{self.n_batches} batch levels but only {n_cov} covariate columns")

    def params(self, z: Tensor, c: Tensor | None) -> dict[str, Tensor]:
        """Raw parameters, each shaped ``(..., n, *shape)`` for latent ``z`` of ``(..., n, k)``."""
        h = self.trunk(z, c)
        out = {
            name: head(h).reshape(*h.shape[:-1], *self.shapes[name])
            for name, head in self.heads.items()
        }
        out.update(dict(self.shared.items()))
        return out

    def forward(self, z: Tensor, c: Tensor | None, context: dict[str, Tensor]) -> Distribution:
        if self.n_batches:
            batch = c[..., : self.n_batches]
            context = {**context, "batch": batch.expand(*z.shape[:-1], self.n_batches)}
        return self.likelihood.distribution(self.params(z, c), context)


def _numel(shape: tuple[int, ...]) -> int:
    n = 1
    for s in shape:
        n *= int(s)
    return n
