"""The family VAE: Gaussian encoder, DeepSequence-style decoder, categorical likelihood."""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager

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
        self._draws: dict[str, Tensor] | None = None
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
        # the step's draw, or else one draw θ = μ + σ ε per call
        sampled = self._draws if self._draws is not None else self.draw_decoder(1.0)[0]
        return torch.func.functional_call(self.decoder, sampled, (z, None, context or {}))

    def draw_decoder(
        self, prior_scale: float, noise: bool = True
    ) -> tuple[dict[str, Tensor], Tensor]:
        """One draw θ = μ + σ ε of the variational decoder weights (their means if not
        ``noise``) and KL(q(θ) || N(0, s²)) summed over them."""
        draws, kl = {}, self._prior_loc.new_zeros(())
        for n, mu in self._weights():
            eps = torch.randn_like(mu) if noise else torch.zeros_like(mu)
            draws[n], term = _VariationalDraw.apply(mu, self.log_sigma[_key(n)], eps, prior_scale)
            kl = kl + term
        return draws, kl

    @contextmanager
    def drawn(self, draws: dict[str, Tensor] | None) -> Iterator[FamilyVAE]:
        """Inside the block a training-mode :meth:`decode` uses the decoder weights ``draws``
        (from :meth:`draw_decoder`), so a step's likelihood and weight KL share one draw."""
        self._draws = draws
        try:
            yield self
        finally:
            self._draws = None

    def weight_kl(self, prior_scale: float) -> Tensor:
        """KL(q(θ) || N(0, s²)) summed over the variational decoder weights."""
        return self.draw_decoder(prior_scale, noise=False)[1]

    def prior(self) -> Distribution:
        return standard_normal(self._prior_loc)

    def context(self, x: Tensor) -> dict[str, Tensor]:
        return {}


def _key(name: str) -> str:
    return name.replace(".", "__")


class _VariationalDraw(torch.autograd.Function):
    """θ = μ + e^ℓ ε and Σ KL(N(μ, e^{2ℓ}) || N(0, s²)) = Σ [½ (e^{2ℓ} + μ²) / s² − ½ − ℓ + log s],
    with gradients ∂/∂μ = g_θ + g_KL μ / s² and ∂/∂ℓ = e^ℓ (g_θ ε + g_KL e^ℓ / s²) − g_KL, in
    a few passes over the weights (the decoder's output weights are millions of values; the
    sample and the KL term by term took ≈ 20 passes)."""

    @staticmethod
    def forward(ctx, mu: Tensor, log_sigma: Tensor, eps: Tensor, scale: float):
        sigma = torch.exp(log_sigma)
        ctx.save_for_backward(mu, sigma, eps)
        ctx.scale = scale
        s_flat, m_flat = sigma.reshape(-1), mu.reshape(-1)
        quad = torch.dot(s_flat, s_flat) + torch.dot(m_flat, m_flat)
        kl = 0.5 * quad / scale**2 - log_sigma.sum() + mu.numel() * (math.log(scale) - 0.5)
        return torch.addcmul(mu, sigma, eps), kl

    @staticmethod
    def backward(ctx, d_theta: Tensor, d_kl: Tensor):
        mu, sigma, eps = ctx.saved_tensors
        c = d_kl / ctx.scale**2
        d_mu = torch.addcmul(d_theta, mu, c)
        d_log_sigma = torch.addcmul(sigma * c, d_theta, eps).mul_(sigma).sub_(d_kl)
        return d_mu, d_log_sigma, None, None
