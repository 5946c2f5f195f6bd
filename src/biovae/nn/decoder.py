"""Decoder: z (and covariates) → raw likelihood parameters → p(x|z)."""

from __future__ import annotations

import dataclasses

from torch import Tensor, nn
from torch.distributions import Distribution

from biovae.config import NetworkConfig
from biovae.likelihoods import Likelihood
from biovae.nn.memory import linear
from biovae.nn.mlp import MLP, FeatureBatchNorm


class Decoder(nn.Module):
    """MLP trunk with one linear head per per-observation output of the likelihood.

    Shared parameters of the likelihood (``global_params``, e.g. gene-wise dispersion) are
    learned here as ``nn.Parameter``s; the likelihood turns raw values into a distribution.
    The trunk's dropout is ``cfg.decoder_dropout``; ``cfg.decoder == "linear"`` leaves the trunk
    out, so each head is one affine map of (z, c), a :class:`LinearHead` (LDVAE). A likelihood
    with per-batch parameters (``n_batches`` > 0) gets the batch one-hot, the first
    ``n_batches`` columns of ``c`` (``data.batch_key`` is encoded first), as
    ``context["batch"]``.
    """

    def __init__(self, likelihood: Likelihood, n_cov: int, n_latent: int, cfg: NetworkConfig):
        super().__init__()
        self.likelihood = likelihood
        trunk_cfg = dataclasses.replace(cfg, dropout=cfg.decoder_dropout)
        hidden = () if cfg.decoder == "linear" else tuple(reversed(cfg.hidden))
        self.trunk = MLP(n_latent, n_cov, hidden, trunk_cfg)
        self.shapes = likelihood.outputs()
        head = LinearHead if cfg.decoder == "linear" else linear
        self.heads = nn.ModuleDict(
            {
                name: head(self.trunk.out_features, _numel(shape))
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


class LinearHead(nn.Module):
    """LDVAE's linear decoder (Svensson et al. 2020, as scvi-tools builds it): y = BN(W h), a
    linear map without bias followed by batch norm of each output over the records.

    The batch norm takes each output's mean over the records out of W h, so no latent
    dimension can stand in for an output's offset (the norm's bias β is the offset). A
    plain affine map learns large offsets slowly, and meanwhile the mean of z along one
    direction can serve as them; the latent space then loses a factor (RESULTS.md, loadings
    run 1). :meth:`effective_weight` is the map in evaluation: diag(γ / √(running var + ε)) W.
    """

    def __init__(self, n_in: int, n_out: int) -> None:
        super().__init__()
        self.linear = linear(n_in, n_out, bias=False)
        self.norm = FeatureBatchNorm(n_out)

    def forward(self, h: Tensor) -> Tensor:
        return self.norm(self.linear(h))

    def effective_weight(self) -> Tensor:
        scale = self.norm.weight / (self.norm.running_var + self.norm.eps).sqrt()
        return scale[:, None] * self.linear.weight


def _numel(shape: tuple[int, ...]) -> int:
    n = 1
    for s in shape:
        n *= int(s)
    return n
