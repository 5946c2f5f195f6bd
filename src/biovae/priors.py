"""Priors p(z) and the point-mass "posterior" of the deterministic autoencoder."""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import Tensor
from torch.distributions import Distribution, Independent, Normal, constraints


def standard_normal(zeros: Tensor) -> Distribution:
    """p(z) = N(0, I_k) with event shape ``(k,)``, on the device and dtype of ``zeros`` (k,)."""
    return Independent(
        Normal(zeros, torch.ones_like(zeros), validate_args=False), 1, validate_args=False
    )


class PointMass(Distribution):
    """δ(z − loc): the code of a deterministic encoder, behind the Distribution interface.

    ``mean``, ``sample`` and ``rsample`` return ``loc`` (broadcast to the sample shape);
    ``log_prob`` is not defined (a plain autoencoder has no density over codes).
    """

    arg_constraints: ClassVar[dict] = {"loc": constraints.real}
    has_rsample = True

    def __init__(self, loc: Tensor, validate_args: bool | None = None) -> None:
        self.loc = loc
        super().__init__(loc.shape[:-1], loc.shape[-1:], validate_args=validate_args)

    @property
    def mean(self) -> Tensor:
        return self.loc

    @property
    def variance(self) -> Tensor:
        return torch.zeros_like(self.loc)

    def rsample(self, sample_shape: torch.Size = torch.Size()) -> Tensor:
        return self.loc.expand(*sample_shape, *self.loc.shape)

    def log_prob(self, value: Tensor) -> Tensor:
        raise NotImplementedError("a point-mass code has no density; use a VAE for likelihoods")
