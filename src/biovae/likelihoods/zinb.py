"""Zero-inflated negative binomial likelihood for counts with excess zeros.

p(x|z) = Π_g [π_g δ_0(x_g) + (1 − π_g) NB(x_g; μ_g, θ_g)], π = sigmoid(dropout logits(z)),
with μ and θ as in :mod:`biovae.likelihoods.negative_binomial`.
"""

from __future__ import annotations

from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.distributions import Distribution, Independent, constraints

from biovae.likelihoods.negative_binomial import NBDistribution, NegativeBinomial


class ZINBDistribution(Distribution):
    """Zero-inflated NB: the NB part ``nb`` and zero-inflation logits ``pi_logits`` (π =
    sigmoid(logits))."""

    arg_constraints: ClassVar[dict] = {
        "mu": constraints.positive,
        "theta": constraints.positive,
        "pi_logits": constraints.real,
    }
    support = constraints.nonnegative_integer

    def __init__(self, nb: NBDistribution, pi_logits: Tensor, validate_args=None) -> None:
        self.nb = nb
        self.pi_logits = pi_logits.expand(nb.batch_shape)
        super().__init__(nb.batch_shape, validate_args=validate_args)

    @property
    def mu(self) -> Tensor:
        return self.nb.mu

    @property
    def theta(self) -> Tensor:
        return self.nb.theta

    @property
    def mean(self) -> Tensor:
        return torch.sigmoid(-self.pi_logits) * self.nb.mu

    @property
    def variance(self) -> Tensor:
        keep = torch.sigmoid(-self.pi_logits)
        m2 = self.nb.variance + self.nb.mu**2
        return keep * m2 - (keep * self.nb.mu) ** 2

    def log_prob(self, value: Tensor) -> Tensor:
        log_pi = -F.softplus(-self.pi_logits)  # log sigmoid(g)
        log_keep = -F.softplus(self.pi_logits)  # log (1 − sigmoid(g))
        nb_lp = self.nb.log_prob(value)
        zero = torch.logaddexp(log_pi, log_keep + nb_lp)
        return torch.where(value == 0, zero, log_keep + nb_lp)

    def sample(self, sample_shape: torch.Size = torch.Size()) -> Tensor:
        with torch.no_grad():
            counts = self.nb.sample(sample_shape)
            keep = torch.rand_like(counts) >= torch.sigmoid(self.pi_logits)
            return counts * keep


class ZeroInflatedNegativeBinomial(NegativeBinomial):
    name = "zinb"

    def outputs(self) -> dict[str, tuple[int, ...]]:
        return {"rho": self.data_shape, "pi_logits": self.data_shape}

    def distribution(self, params: dict[str, Tensor], context: dict[str, Tensor]) -> Distribution:
        return Independent(
            ZINBDistribution(self.nb(params, context), params["pi_logits"], validate_args=False),
            1,
            validate_args=False,
        )
