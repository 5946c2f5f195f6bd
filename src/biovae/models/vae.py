"""Variational autoencoder, optionally conditional on covariates, and the plain autoencoder.

Both are the same composition — likelihood + encoder + decoder + prior — and differ only in the
encoder (Gaussian q(z|x) vs point code) and the objective (ELBO/IWAE vs reconstruction).
β, warm-up, free bits and IWAE-k are objective arguments, never subclasses.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.distributions import Distribution

from biovae import objectives
from biovae.config import ModelConfig, ObjectiveConfig
from biovae.likelihoods import Likelihood
from biovae.nn import Decoder, GaussianEncoder, PointEncoder
from biovae.nn.memory import check_total
from biovae.objectives import Batch, LossOutput
from biovae.priors import standard_normal


class LatentVariableModel(nn.Module):
    """p(z) p(x|z, c) with an amortised encoder; ``stochastic`` picks VAE vs autoencoder."""

    def __init__(
        self, likelihood: Likelihood, n_cov: int, config: ModelConfig, stochastic: bool = True
    ) -> None:
        super().__init__()
        self.likelihood = likelihood
        self.config = config
        self.n_latent = config.n_latent
        self.stochastic = stochastic
        encoder_cls = GaussianEncoder if stochastic else PointEncoder
        self.encoder = encoder_cls(likelihood.n_inputs, n_cov, config.n_latent, config.network)
        self.decoder = Decoder(likelihood, n_cov, config.n_latent, config.network)
        self.register_buffer("_prior_loc", torch.zeros(config.n_latent), persistent=False)

    def encode(self, x: Tensor, c: Tensor | None = None) -> Distribution:
        """q(z|x, c) with batch shape (n,) and event shape (k,)."""
        return self.encoder(self.likelihood.featurize(x), c)

    def decode(
        self, z: Tensor, c: Tensor | None = None, context: dict[str, Tensor] | None = None
    ) -> Distribution:
        """p(x|z, c); ``context`` carries observed quantities such as library size."""
        return self.decoder(z, c, context or {})

    def prior(self) -> Distribution:
        """p(z) = N(0, I)."""
        return standard_normal(self._prior_loc)

    def context(self, x: Tensor) -> dict[str, Tensor]:
        return self.likelihood.context(x)

    def forward(self, batch: Batch, config: ObjectiveConfig, epoch: int = 0) -> LossOutput:
        """Same as :meth:`loss`; ``forward`` lets DistributedDataParallel wrap the model."""
        return self.loss(batch, config, epoch)

    def loss(self, batch: Batch, config: ObjectiveConfig, epoch: int = 0) -> LossOutput:
        """Training loss: the configured ELBO/IWAE objective, or reconstruction for an AE."""
        if not self.stochastic:
            return objectives.reconstruction(self, batch)
        return objectives.objective(self, batch, config, epoch)


def build_model(
    likelihood: Likelihood, n_cov: int, config: ModelConfig, n_classes: int = 0
) -> nn.Module:
    """The network model for ``config.kind`` (``vae``, ``ae`` or ``ssvae`` with ``n_classes``),
    after checking that all its weights together fit in memory (counted on the ``meta``
    device, which allocates nothing; each block is checked again as it is made)."""
    if torch.empty(0).device.type != "meta":
        with torch.device("meta"):
            shapes = _build_model(likelihood, n_cov, config, n_classes)
        n = sum(p.numel() for p in shapes.parameters())
        check_total(n, 1, "the model")
    return _build_model(likelihood, n_cov, config, n_classes)


def _build_model(
    likelihood: Likelihood, n_cov: int, config: ModelConfig, n_classes: int
) -> nn.Module:
    if config.kind == "ssvae":
        from biovae.models.semisupervised import SemiSupervisedVAE

        return SemiSupervisedVAE(likelihood, n_cov, n_classes, config)
    if config.kind not in ("vae", "ae"):
        raise ValueError(f"model kind {config.kind!r} is not a neural model")
    return LatentVariableModel(likelihood, n_cov, config, stochastic=config.kind == "vae")
