"""Multilayer perceptron blocks with optional covariate injection."""

from __future__ import annotations

import itertools

import torch
from torch import Tensor, nn

from biovae.config import NetworkConfig
from biovae.nn.memory import linear

_ACTIVATIONS = {"relu": nn.ReLU, "gelu": nn.GELU, "silu": nn.SiLU, "tanh": nn.Tanh, "elu": nn.ELU}


class FeatureBatchNorm(nn.BatchNorm1d):
    """Batch norm over the last dimension of inputs of any shape ``(..., n, width)``: the
    leading dimensions (e.g. the importance samples of z) are pooled with the records.
    ``nn.BatchNorm1d`` itself reads a 3-D input as (n, channels, length) and fails on one."""

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() == 2:
            return super().forward(x)
        return super().forward(x.reshape(-1, x.shape[-1])).reshape(x.shape)


def _norm(kind: str, width: int) -> nn.Module:
    if kind == "batch":
        return FeatureBatchNorm(width)
    if kind == "layer":
        return nn.LayerNorm(width, elementwise_affine=False)
    return nn.Identity()


class MLP(nn.Module):
    """``n_in → hidden[0] → … → hidden[-1]`` with norm, activation and dropout per layer.

    Covariates ``c`` (n, n_cov) are concatenated to the input of the first layer and, with
    ``inject_covariates``, of every hidden layer (as in scVI), so a conditional decoder cannot
    forget them. With no hidden layers the block is the identity and ``out_features = n_in``.
    """

    def __init__(self, n_in: int, n_cov: int, hidden: tuple[int, ...], cfg: NetworkConfig) -> None:
        super().__init__()
        self.n_cov = n_cov
        self.inject = cfg.inject_covariates and n_cov > 0
        widths = (n_in, *hidden)
        self.linears = nn.ModuleList()
        self.posts = nn.ModuleList()
        for i, (a, b) in enumerate(itertools.pairwise(widths)):
            extra = n_cov if (i == 0 or self.inject) else 0
            self.linears.append(linear(a + extra, b))
            self.posts.append(
                nn.Sequential(
                    _norm(cfg.norm, b),
                    _ACTIVATIONS[cfg.activation](),
                    nn.Dropout(cfg.dropout) if cfg.dropout > 0 else nn.Identity(),
                )
            )
        self.out_features = widths[-1] + (n_cov if not hidden else 0)

    def forward(self, x: Tensor, c: Tensor | None) -> Tensor:
        if not len(self.linears):  # c (n, d) broadcast over the draws of z (..., n, k)
            return x if c is None or self.n_cov == 0 else torch.cat([x, _expand_like(c, x)], -1)
        h = x
        for i, (layer, post) in enumerate(zip(self.linears, self.posts)):
            if self.n_cov and (i == 0 or self.inject):
                h = torch.cat([h, _expand_like(c, h)], dim=-1)
            h = post(layer(h))
        return h


def _expand_like(c: Tensor, h: Tensor) -> Tensor:
    """Broadcast covariates (n, d) over leading sample dims of h (..., n, w)."""
    return c.expand(*h.shape[:-1], c.shape[-1])
