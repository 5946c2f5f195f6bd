"""Decoder: z (and covariates) → raw likelihood parameters → p(x|z)."""

from __future__ import annotations

from torch import Tensor, nn
from torch.distributions import Distribution

from biovae.config import NetworkConfig
from biovae.likelihoods import Likelihood
from biovae.nn.mlp import MLP


class Decoder(nn.Module):
    """MLP trunk with one linear head per per-observation output of the likelihood.

    Shared parameters of the likelihood (``global_params``, e.g. gene-wise dispersion) are
    learned here as ``nn.Parameter``s; the likelihood turns raw values into a distribution.
    """

    def __init__(self, likelihood: Likelihood, n_cov: int, n_latent: int, cfg: NetworkConfig):
        super().__init__()
        self.likelihood = likelihood
        self.trunk = MLP(n_latent, n_cov, tuple(reversed(cfg.hidden)), cfg)
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
        return self.likelihood.distribution(self.params(z, c), context)


def _numel(shape: tuple[int, ...]) -> int:
    n = 1
    for s in shape:
        n *= int(s)
    return n
