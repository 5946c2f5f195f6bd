"""The family VAE: Gaussian encoder, DeepSequence-style decoder, categorical likelihood."""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import Tensor, nn
from torch.distributions import Distribution

from biovae import likelihoods
from biovae.applications.variants.config import FamilyModelConfig
from biovae.config import LikelihoodConfig
from biovae.likelihoods import fused
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
                {_key(n): nn.Parameter(torch.full_like(p, -5.0)) for n, p in self.decoder_weights()}
            )

    def decoder_weights(self) -> list[tuple[str, Tensor]]:
        """The decoder's weights under the N(0, s²) prior (with ``bayesian``: the means of q(θ))."""
        keep = {id(p) for p in self.decoder.penalized()}
        return [(n, p) for n, p in self.decoder.named_parameters() if id(p) in keep]

    def encode(self, x: Tensor, c: Tensor | None = None) -> Distribution:
        return self.encoder(x)

    def decode(
        self, z: Tensor, c: Tensor | None = None, context: dict[str, Tensor] | None = None
    ) -> Distribution:
        sampled = self._draws  # weights set by drawn(); in training a fresh draw otherwise
        if sampled is None and self.bayesian and self.training:
            sampled = self.draw_decoder(1.0)[0]
        if sampled is None:
            return self.decoder(z, None, context or {})
        args, kwargs = (z, None, context or {}), {}
        if self._local() and _LOCAL not in sampled:  # drawn per record inside the decoder
            kwargs["w_sd"] = self.log_sigma[_key(_LOCAL)].exp()
        return torch.func.functional_call(self.decoder, sampled, args, kwargs)

    def _local(self) -> bool:
        """Training with per-record output-weight noise (``weight_noise = "local"``)."""
        return self.bayesian and self.training and self.config.weight_noise == "local"

    def draw_decoder(
        self, prior_scale: float, noise: bool = True, generator: torch.Generator | None = None
    ) -> tuple[dict[str, Tensor], Tensor]:
        """One draw θ = μ + σ ε of the variational decoder weights (their means if not
        ``noise``) and KL(q(θ) || N(0, s²)) summed over them. ``generator`` (on the CPU) makes
        the draw the same on every device. With ``weight_noise = "local"`` in training the
        output weights are not drawn here (the decoder draws them per record) but their KL is
        included."""
        draws, kl = {}, self._prior_loc.new_zeros(())
        for n, mu in self.decoder_weights():
            if n == _LOCAL and noise and self._local():
                log_sigma = self.log_sigma[_key(n)]
                kl = kl + _gaussian_kl(mu, log_sigma, log_sigma.exp(), prior_scale)
                continue
            eps = normal_noise(mu, generator) if noise else torch.zeros_like(mu)
            draws[n], term = _VariationalDraw.apply(mu, self.log_sigma[_key(n)], eps, prior_scale)
            kl = kl + term
        return draws, kl

    @contextmanager
    def drawn(self, draws: dict[str, Tensor] | None) -> Iterator[FamilyVAE]:
        """Inside the block :meth:`decode` uses the decoder weights ``draws`` (from
        :meth:`draw_decoder`; ``None``: the usual weights), so a training step's likelihood and
        weight KL share one draw and scoring can average over draws."""
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


def normal_noise(like: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """N(0, 1) values shaped like ``like``, from ``generator`` (CPU) or the default generator.

    torch fills a CPU tensor with normal values on one thread (≈ 3.5 ns a value: 17 ms for the
    5 M output weights, the largest single cost of a variational update on two cores). Large
    CPU tensors are therefore filled in ``_CHUNKS`` parts, each from its own generator seeded
    from the caller's, by up to ``torch.get_num_threads()`` threads: the values depend on the
    seed only, not on the number of threads.
    """
    if like.device.type != "cpu" or like.numel() < _PARALLEL_FROM:
        if generator is None:
            return torch.randn_like(like)
        return torch.randn(like.shape, generator=generator).to(like.device)
    seeds = torch.randint(0, 2**62, (_CHUNKS,), generator=generator).tolist()
    out = torch.empty(like.shape, dtype=like.dtype)
    parts = out.view(-1).chunk(_CHUNKS)
    n_workers = max(1, min(torch.get_num_threads(), _CHUNKS))

    def fill(worker: int) -> None:
        for i in range(worker, _CHUNKS, n_workers):
            parts[i].normal_(generator=torch.Generator().manual_seed(seeds[i]))

    helpers = [threading.Thread(target=fill, args=(w,)) for w in range(1, n_workers)]
    for t in helpers:
        t.start()
    fill(0)
    for t in helpers:
        t.join()
    return out


_CHUNKS = 4
_PARALLEL_FROM = 1 << 20


#: The decoder's output weights, drawn per record when ``weight_noise = "local"``.
_LOCAL = "w_hld"


def _gaussian_kl(mu: Tensor, log_sigma: Tensor, sigma: Tensor, scale: float) -> Tensor:
    """Σ KL(N(μ, σ²) || N(0, s²)) = Σ [½ (σ² + μ²) / s² − ½ − ℓ + log s], σ = e^ℓ (passed in,
    so a caller that has it computes no second exponential)."""
    s_flat, m_flat = sigma.reshape(-1), mu.reshape(-1)
    return _kl_from_sums(torch.dot(s_flat, s_flat) + torch.dot(m_flat, m_flat), log_sigma, scale)


def _kl_from_sums(quad: Tensor, log_sigma: Tensor, scale: float) -> Tensor:
    """The Gaussian KL above from quad = Σ (σ² + μ²)."""
    return 0.5 * quad / scale**2 - log_sigma.sum() + log_sigma.numel() * (math.log(scale) - 0.5)


def _key(name: str) -> str:
    return name.replace(".", "__")


def _draw_forward(mu: Tensor, log_sigma: Tensor, eps: Tensor, scale: float):
    """θ = μ + e^ℓ ε and its KL term (eager: torch's fused ``addcmul`` and two dot products)."""
    sigma = torch.exp(log_sigma)
    return torch.addcmul(mu, sigma, eps), _gaussian_kl(mu, log_sigma, sigma, scale)


def _draw_backward(mu: Tensor, log_sigma: Tensor, eps: Tensor, d_theta, d_kl, scale: float):
    """∂/∂μ = g_θ + g_KL μ / s² and ∂/∂ℓ = e^ℓ (g_θ ε + g_KL e^ℓ / s²) − g_KL (eager)."""
    sigma = torch.exp(log_sigma)
    c = d_kl / scale**2
    d_mu = torch.addcmul(d_theta, mu, c)
    return d_mu, torch.addcmul(sigma * c, d_theta, eps).mul_(sigma).sub_(d_kl)


def _draw_forward_fused(mu: Tensor, log_sigma: Tensor, eps: Tensor, scale: float):
    """:func:`_draw_forward` as plain arithmetic, one loop once compiled."""
    sigma = torch.exp(log_sigma)
    return mu + sigma * eps, _kl_from_sums((sigma * sigma + mu * mu).sum(), log_sigma, scale)


def _draw_backward_fused(mu: Tensor, log_sigma: Tensor, eps: Tensor, d_theta, d_kl, scale: float):
    """:func:`_draw_backward` as plain arithmetic, one loop once compiled."""
    sigma = torch.exp(log_sigma)
    c = d_kl / scale**2
    return d_theta + mu * c, sigma * (sigma * c + d_theta * eps) - d_kl


#: Compiled inside a long variational fit (see :mod:`biovae.likelihoods.fused`), else eager.
_DRAW_FORWARD = fused.FusedKernel(_draw_forward_fused, _draw_forward)
_DRAW_BACKWARD = fused.FusedKernel(_draw_backward_fused, _draw_backward)


class _VariationalDraw(torch.autograd.Function):
    """θ = μ + e^ℓ ε and Σ KL(N(μ, e^{2ℓ}) || N(0, s²)) = Σ [½ (e^{2ℓ} + μ²) / s² − ½ − ℓ + log s],
    with gradients ∂/∂μ = g_θ + g_KL μ / s² and ∂/∂ℓ = e^ℓ (g_θ ε + g_KL e^ℓ / s²) − g_KL. The
    decoder's output weights are millions of values: term by term the sample and the KL took
    ≈ 20 passes over them, eager these functions take 10, compiled (inside a long fit) 2."""

    @staticmethod
    def forward(ctx, mu: Tensor, log_sigma: Tensor, eps: Tensor, scale: float):
        ctx.compiled = fused.active(mu)
        ctx.save_for_backward(mu, log_sigma, eps)
        ctx.scale = scale
        flat = (t.reshape(-1) for t in (mu, log_sigma, eps))  # one compiled form for all shapes
        theta, kl = _DRAW_FORWARD(ctx.compiled, *flat, scale)
        return theta.view(mu.shape), kl

    @staticmethod
    def backward(ctx, d_theta: Tensor, d_kl: Tensor):
        mu, log_sigma, eps = ctx.saved_tensors
        flat = [t.reshape(-1) for t in (mu, log_sigma, eps, d_theta)]
        d_mu, d_log_sigma = _DRAW_BACKWARD(ctx.compiled, *flat, d_kl, ctx.scale)
        return d_mu.view(mu.shape), d_log_sigma.view(mu.shape), None, None
