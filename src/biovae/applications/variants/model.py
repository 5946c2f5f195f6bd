"""The family VAE: Gaussian encoder, DeepSequence-style decoder, categorical likelihood."""

from __future__ import annotations

import math

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
        self.bayesian = config.bayesian
        if self.bayesian:  # q(θ) = N(μ, σ²) per decoder weight; μ are the decoder's parameters
            self.log_sigma = nn.ParameterDict(
                {_key(n): nn.Parameter(torch.full_like(p, -5.0)) for n, p in self._weights()}
            )

    def _weights(self) -> list[tuple[str, Tensor]]:
        keep = {id(p) for p in self.decoder.penalized()}
        return [(n, p) for n, p in self.decoder.named_parameters() if id(p) in keep]

    def encode(self, x: Tensor, c: Tensor | None = None) -> Distribution:
        return self.encoder(x)

    def decode(
        self, z: Tensor, c: Tensor | None = None, context: dict[str, Tensor] | None = None
    ) -> Distribution:
        if not (self.bayesian and self.training):
            return self.decoder(z, None, context or {})
        # one draw θ = μ + σ ε of the decoder weights per call (per minibatch)
        sampled = {
            n: p + torch.exp(self.log_sigma[_key(n)]) * torch.randn_like(p)
            for n, p in self._weights()
        }
        return torch.func.functional_call(self.decoder, sampled, (z, None, context or {}))

    def weight_kl(self, prior_scale: float) -> Tensor:
        """KL(q(θ) || N(0, s²)) summed over the variational decoder weights."""
        total = self._prior_loc.new_zeros(())
        for n, mu in self._weights():
            log_sigma = self.log_sigma[_key(n)]
            var_ratio = torch.exp(2 * log_sigma) / prior_scale**2
            total = total + 0.5 * (var_ratio + mu.pow(2) / prior_scale**2 - 1).sum()
            total = total - (log_sigma.sum() - log_sigma.numel() * math.log(prior_scale))
        return total

    def prior(self) -> Distribution:
        return standard_normal(self._prior_loc)

    def context(self, x: Tensor) -> dict[str, Tensor]:
        return {}


def _key(name: str) -> str:
    return name.replace(".", "__")
