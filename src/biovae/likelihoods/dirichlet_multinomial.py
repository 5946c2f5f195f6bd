"""Dirichlet-multinomial likelihood for taxon (or gene) counts with an observed read depth.

p(x|z) = DM(x; n, α) with n = Σ_j x_j the observed depth and α = φ · softmax(ρ(z)): the decoder
gives the mean composition, one learned precision φ > 0 sets the over-dispersion
(variance of x_j = n p_j (1 − p_j) (n + φ)/(1 + φ); φ → ∞ is the multinomial):

    DM(x; n, α) = n! Γ(A) / Γ(n + A) · Π_j Γ(x_j + α_j) / (x_j! Γ(α_j)),   A = Σ_j α_j

Counts of a metagenome are a draw of n reads from a composition that varies between samples
more than a multinomial allows; the Dirichlet mixing absorbs that extra variance with one
parameter, and conditioning on the observed depth n makes the model purely compositional.
"""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import Tensor
from torch.distributions import Distribution, constraints

from biovae.likelihoods.base import (
    Likelihood,
    ObservedLibrary,
    inverse_positive,
    log_gamma_sample,
    positive,
)


class DirichletMultinomialDistribution(Distribution):
    """DM over the last dimension: ``concentration`` (..., n, f), ``total`` (n, 1) read depths.

    Built by the likelihood through :meth:`from_log` (log α = log φ + log softmax(ρ)), so the
    density is formed from log α and a rare taxon keeps its log-probability and gradient.
    """

    arg_constraints: ClassVar[dict] = {"concentration": constraints.positive}
    support = constraints.nonnegative_integer

    def __init__(self, concentration: Tensor, total: Tensor, validate_args: bool | None = None):
        self.concentration = concentration
        self.total = total
        self._log_concentration: Tensor | None = None
        super().__init__(
            concentration.shape[:-1], concentration.shape[-1:], validate_args=validate_args
        )

    @classmethod
    def from_log(cls, log_concentration: Tensor, total: Tensor) -> DirichletMultinomialDistribution:
        """DM with α = exp(``log_concentration``). α clamped at 1e-8 had capped the penalty of
        reads of a taxon with α ≪ 1e-8 (−18 nats for one read where it was −39 at α = e⁻³⁸)
        and cut its gradient to zero; float32 α underflows to 0 below e⁻¹⁰³, float64's not."""
        self = cls(torch.exp(log_concentration), total, validate_args=False)
        self._log_concentration = log_concentration
        return self

    @property
    def mean(self) -> Tensor:
        alpha = self.concentration
        return self.total * alpha / alpha.sum(-1, keepdim=True)

    def log_prob(self, value: Tensor) -> Tensor:
        """In float64 whatever the inputs: log Γ(n + 1) − log Γ(n + A) and log Γ(x + α) −
        log Γ(x + 1) cancel from ≈ n log n (1.5e8 at 10⁷ reads, where a float32 rounding is 16
        nats) to a few nats."""
        log_alpha = self._log_concentration
        alpha = self.concentration.double() if log_alpha is None else log_alpha.double().exp()
        value = value.double()
        a_sum = alpha.sum(-1)
        n = value.sum(-1)
        per_taxon = torch.lgamma(value + alpha) - torch.lgamma(alpha) - torch.lgamma(value + 1.0)
        out = (
            torch.lgamma(n + 1.0)
            + torch.lgamma(a_sum)
            - torch.lgamma(n + a_sum)
            + per_taxon.sum(-1)
        )
        return out.to(self.concentration.dtype)

    def sample(self, sample_shape: torch.Size = torch.Size()) -> Tensor:
        """p ~ Dirichlet(α), then x ~ Multinomial(n, p) by sequential conditional binomials."""
        with torch.no_grad():
            # a concentration that underflowed to 0 would make log G = log U / 0 undefined
            tiny = torch.finfo(self.concentration.dtype).tiny
            alpha = self.concentration.clamp_min(tiny).expand(self._extended_shape(sample_shape))
            p = torch.softmax(log_gamma_sample(alpha), -1)
            left = self.total.expand(*p.shape[:-1], 1)[..., 0].round()
            rest = torch.ones_like(left)
            out = torch.zeros_like(p)
            for j in range(p.shape[-1] - 1):
                prob = (p[..., j] / rest.clamp_min(1e-12)).clamp(0.0, 1.0)
                out[..., j] = torch.distributions.Binomial(left, probs=prob).sample()
                left = left - out[..., j]
                rest = rest - p[..., j]
            out[..., -1] = left
            return out


class DirichletMultinomial(ObservedLibrary, Likelihood):
    name = "dirichlet_multinomial"
    compositional = True
    integer_data = True

    def outputs(self) -> dict[str, tuple[int, ...]]:
        return {"rho": self.data_shape}

    def global_params(self) -> dict[str, Tensor]:
        return {"precision": torch.tensor(inverse_positive(10.0))}

    def context(self, x: Tensor) -> dict[str, Tensor]:
        """The observed depth n = Σ x, unclamped: a record with no reads has one outcome (all
        zeros), so its mean and samples are zero too."""
        return {"library": x.sum(dim=-1, keepdim=True)}

    def distribution(self, params: dict[str, Tensor], context: dict[str, Tensor]) -> Distribution:
        log_alpha = torch.log(positive(params["precision"])) + torch.log_softmax(params["rho"], -1)
        return DirichletMultinomialDistribution.from_log(log_alpha, context["library"])
