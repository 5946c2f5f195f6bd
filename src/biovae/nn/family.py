"""Encoder and DeepSequence-style decoder for aligned sequence families (Riesselman et al. 2018).

Encoder: q(z|x) = N(μ, diag σ²) from an MLP on the one-hot sequence. The first layer is an
embedding-bag sum of one row per (position, letter), which is exactly a linear layer applied to
the one-hot vector but costs L·H instead of L·A·H per record.

Decoder:

z → ReLU(W₁z) → sigmoid(W₂h₁) = h (width H) → logits over positions × letters through a
low-rank output layer:

    logits_{l a} = softplus(τ_l) · Σ_h h_h (s_{h l} · Σ_d W_{h l d} D_{d a}) + b_{l a}

W (H, L, d) mixes a small dictionary D (d, A) of letter patterns per position (d ≪ H·A), s_{h l} =
sigmoid(S_{⌈h/g⌉ l}) is a group-sparsity gate shared by blocks of g hidden units (which units
may talk to which position) and τ_l a learned per-position inverse temperature. The effective
weight matrix (H, L·A) is built once per forward pass, so the cost per record is one H × L·A
matrix product, like a dense output layer.
"""

from __future__ import annotations

import itertools
import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.distributions import Distribution, Independent, Normal

from biovae.likelihoods import Likelihood
from biovae.nn.encoder import MIN_SCALE
from biovae.nn.memory import check_fits, linear


class FamilyEncoder(nn.Module):
    """q(z|x) for letter codes ``x`` (n, L): ReLU MLP with widths ``hidden``, then μ and σ."""

    def __init__(self, length: int, letters: int, hidden: tuple[int, ...], n_latent: int) -> None:
        super().__init__()
        self.letters = letters
        check_fits((length * letters, hidden[0]), "first-layer weights")
        self.first = nn.EmbeddingBag(length * letters, hidden[0], mode="sum")
        nn.init.uniform_(self.first.weight, -1 / math.sqrt(length), 1 / math.sqrt(length))
        self.first_bias = nn.Parameter(torch.zeros(hidden[0]))
        layers: list[nn.Module] = []
        for a, b in itertools.pairwise(hidden):
            layers += [linear(a, b), nn.ReLU()]
        self.rest = nn.Sequential(*layers)
        self.loc = linear(hidden[-1], n_latent)
        self.scale = linear(hidden[-1], n_latent)
        self.register_buffer("offsets", torch.arange(length) * letters, persistent=False)

    def forward(self, x_nl: Tensor) -> Distribution:
        h = torch.relu(self.first(x_nl.long() + self.offsets) + self.first_bias)
        h = self.rest(h)
        scale = F.softplus(self.scale(h)) + MIN_SCALE
        return Independent(Normal(self.loc(h), scale, validate_args=False), 1, validate_args=False)


class FamilyDecoder(nn.Module):
    """p(x|z) for a categorical likelihood over ``(L,)`` positions with ``A`` letters."""

    def __init__(
        self,
        likelihood: Likelihood,
        n_latent: int,
        hidden: tuple[int, int] = (100, 500),
        rank: int = 40,
        group: int = 4,
    ) -> None:
        super().__init__()
        (length,) = likelihood.data_shape
        letters = likelihood.n_letters
        h1, h2 = hidden
        self.likelihood = likelihood
        self.shape = (length, letters)
        self.group = group
        self.trunk = nn.Sequential(linear(n_latent, h1), nn.ReLU(), linear(h1, h2))
        check_fits((h2, length, rank), "decoder weights")
        self.w_hld = nn.Parameter(torch.randn(h2, length, rank) / math.sqrt(h2))
        self.dictionary = nn.Parameter(torch.randn(rank, letters) / math.sqrt(rank))
        self.gate = nn.Parameter(torch.full((-(-h2 // group), length), 2.0))
        self.raw_temperature = nn.Parameter(torch.full((length,), math.log(math.e - 1.0)))
        self.bias = nn.Parameter(torch.zeros(length, letters))

    def _gate(self) -> Tensor:
        """Gates s (H, L): sigmoid of the group parameters, each row shared by ``group`` units."""
        return torch.sigmoid(self.gate).repeat_interleave(self.group, 0)[: self.w_hld.shape[0]]

    def output_weight(self) -> Tensor:
        """Effective output weights ``(H, L·A)``."""
        w = (self.w_hld * self._gate()[..., None]) @ self.dictionary
        return w.reshape(w.shape[0], -1)

    def logits(self, z: Tensor, w_sd: Tensor | None = None) -> Tensor:
        """Logits ``(..., n, L, A)`` for latent ``z`` of shape ``(..., n, k)``; with ``w_sd``
        the output weights are N(w_hld, w_sd²), drawn anew for every record (see
        :meth:`_local_output`)."""
        h = torch.sigmoid(self.trunk(z))
        if w_sd is None:
            out = (h @ self.output_weight()).reshape(*h.shape[:-1], *self.shape)
        else:
            out = self._local_output(h, w_sd)
        return out * F.softplus(self.raw_temperature)[:, None] + self.bias

    def _local_output(self, h: Tensor, w_sd: Tensor) -> Tensor:
        """Σ_h h_h s_{hl} Σ_d w_{hld} D_{da} with w ~ N(w_hld, w_sd²) independent for every record,
        drawn through its exact distribution (local reparameterisation, Kingma, Salimans and
        Welling 2015): u_{ld} = Σ_h h_h s_{hl} w_{hld} ~ N(Σ_h h s w_hld, Σ_h h² s² w_sd²). That
        is L·d normal values per record instead of H·L·d per shared draw, and the gradient noise
        of the weights then falls with the batch size."""
        n_hidden, length, rank = self.w_hld.shape
        gate = self._gate()[..., None]
        loc = h @ (self.w_hld * gate).reshape(n_hidden, length * rank)
        var = h.square() @ (w_sd * gate).square().reshape(n_hidden, length * rank)
        eps = torch.randn(loc.shape, dtype=torch.float32, device=loc.device)
        u = loc + var.float().clamp_min(1e-20).sqrt() * eps
        return u.reshape(*h.shape[:-1], length, rank) @ self.dictionary

    def forward(
        self,
        z: Tensor,
        c: Tensor | None,
        context: dict[str, Tensor],
        w_sd: Tensor | None = None,
    ) -> Distribution:
        return self.likelihood.distribution({"logits": self.logits(z, w_sd)}, context)

    def penalized(self) -> list[Tensor]:
        """Weights under the N(0, 1) prior of the MAP objective (gates and biases excluded)."""
        return [p for n, p in self.named_parameters() if n not in ("gate", "raw_temperature")]
