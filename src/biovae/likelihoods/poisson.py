"""Poisson likelihood for counts with an observed library size.

p(x|z) = Π_g Poisson(x_g; μ_g), μ_g = ℓ · softmax(ρ(z))_g, where ℓ = Σ_g x_g is the record's
observed library size (so the decoder models composition, as in scVI).
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.distributions import Distribution, Independent
from torch.distributions import Poisson as TorchPoisson

from biovae.likelihoods.base import Likelihood, ObservedLibrary


class PoissonDistribution(TorchPoisson):
    """torch's Poisson given log μ, with ``log_prob`` = x log μ − μ − log x! formed from log μ
    in float64 whatever the inputs.

    From log μ: a gene whose μ is far below its count keeps its true log-probability and a
    gradient; μ clamped at 1e-8 had capped the penalty of such a count (−18 nats per count
    where it was −38 at μ = e⁻³⁸) and cut its gradient to zero, so the gene could not recover.
    In float64: x log μ, μ and log x! are each ≈ x log x and cancel to a few nats, so float32
    was 0.8 nats off at 10⁶ counts and gave log p = 0 (a certain outcome) at 10⁷.
    """

    def __init__(self, log_rate: Tensor, validate_args: bool | None = None) -> None:
        self.log_rate = log_rate
        super().__init__(torch.exp(log_rate), validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(PoissonDistribution, _instance)
        new.log_rate = self.log_rate.expand(batch_shape)
        return super().expand(batch_shape, _instance=new)

    def log_prob(self, value: Tensor) -> Tensor:
        log_rate, value = self.log_rate.double(), value.double()
        out = value * log_rate - torch.exp(log_rate) - torch.lgamma(value + 1.0)
        return out.to(self.log_rate.dtype)


class Poisson(ObservedLibrary, Likelihood):
    name = "poisson"
    integer_data = True

    def outputs(self) -> dict[str, tuple[int, ...]]:
        return {"rho": self.data_shape}

    def distribution(self, params: dict[str, Tensor], context: dict[str, Tensor]) -> Distribution:
        log_rate = torch.log_softmax(params["rho"], dim=-1) + torch.log(context["library"])
        return Independent(
            PoissonDistribution(log_rate, validate_args=False), 1, validate_args=False
        )
