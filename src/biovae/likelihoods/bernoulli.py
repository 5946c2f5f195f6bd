"""Bernoulli likelihood for binary data: p(x|z) = Π_f π_f^x_f (1 − π_f)^(1 − x_f), π = sigmoid."""

from __future__ import annotations

import numpy as np
from torch import Tensor
from torch.distributions import Bernoulli as TorchBernoulli
from torch.distributions import Distribution, Independent

from biovae.likelihoods.base import BadEntry, Likelihood, first_bad


class Bernoulli(Likelihood):
    name = "bernoulli"
    integer_data = True

    def outputs(self) -> dict[str, tuple[int, ...]]:
        return {"logits": self.data_shape}

    def distribution(self, params: dict[str, Tensor], context: dict[str, Tensor]) -> Distribution:
        return Independent(
            TorchBernoulli(logits=params["logits"], validate_args=False),
            len(self.data_shape),
            validate_args=False,
        )

    def defeaturize(self, x_nf: Tensor) -> Tensor:
        return (super().defeaturize(x_nf) > 0.5).float()

    def validate(self, x: np.ndarray) -> BadEntry | None:
        hit = first_bad(x, lambda v: (v != 0) & (v != 1))
        if hit:
            return BadEntry(*hit, "is not 0 or 1", "binarise the data or choose another likelihood")
        return None
