"""The family VAE: Gaussian encoder, DeepSequence-style decoder, categorical likelihood."""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.distributions import Distribution

from biovae import likelihoods
from biovae.applications.variants.config import FamilyModelConfig
from biovae.config import LikelihoodConfig
from biovae.nn.family import FamilyDecoder, FamilyEncoder
from biovae.priors import standard_normal


class FamilyVAE(nn.Module):
    """q(z|x) from :class:`FamilyEncoder`, p(x|z) from :class:`FamilyDecoder`, p(z) = N(0, I).

    It follows the model contract of :mod:`biovae.objectives` (encode / decode / prior /
    context), so :func:`biovae.objectives.elbo` and the IWAE bound apply unchanged.
    """

    def __init__(self, length: int, n_letters: int, config: FamilyModelConfig) -> None:
        super().__init__()
        self.config = config
        self.likelihood = likelihoods.build(
            LikelihoodConfig(name="categorical"), (length,), n_letters
        )
        self.encoder = FamilyEncoder(length, n_letters, config.encoder_hidden, config.n_latent)
        self.decoder = FamilyDecoder(
            self.likelihood, config.n_latent, config.decoder_hidden, config.rank, config.group
        )
        self.register_buffer("_prior_loc", torch.zeros(config.n_latent), persistent=False)

    def encode(self, x: Tensor, c: Tensor | None = None) -> Distribution:
        return self.encoder(x)

    def decode(
        self, z: Tensor, c: Tensor | None = None, context: dict[str, Tensor] | None = None
    ) -> Distribution:
        return self.decoder(z, None, context or {})

    def prior(self) -> Distribution:
        return standard_normal(self._prior_loc)

    def context(self, x: Tensor) -> dict[str, Tensor]:
        return {}
