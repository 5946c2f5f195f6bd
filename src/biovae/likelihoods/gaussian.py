"""Gaussian likelihood: p(x|z) = Π_f N(x_f; μ_f(z), σ_f²).

σ is learned per feature (``variance="feature"``: factor analysis / probabilistic PCA when the
decoder is linear), shared by all features (``"shared"``), produced by the decoder for every
observation (``"observation"``) or fixed (``"fixed"``, σ = ``fixed_scale``).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor
from torch.distributions import Distribution, Independent, Normal

from biovae.likelihoods.base import BadEntry, Likelihood, first_bad, inverse_positive, positive


class Gaussian(Likelihood):
    name = "gaussian"

    def outputs(self) -> dict[str, tuple[int, ...]]:
        out = {"loc": self.data_shape}
        if self.config.variance == "observation":
            out["scale"] = self.data_shape
        return out

    def global_params(self) -> dict[str, Tensor]:
        init = inverse_positive(1.0)
        if self.config.variance == "feature":
            return {"scale": torch.full(self.data_shape, init)}
        if self.config.variance == "shared":
            return {"scale": torch.full((1,), init)}
        return {}

    def distribution(self, params: dict[str, Tensor], context: dict[str, Tensor]) -> Distribution:
        loc = params["loc"]
        if self.config.variance == "fixed":
            scale = torch.full_like(loc, self.config.fixed_scale)
        else:
            scale = positive(params["scale"]).expand_as(loc)
        return Independent(
            Normal(loc, scale, validate_args=False), len(self.data_shape), validate_args=False
        )

    def validate(self, x: np.ndarray) -> BadEntry | None:
        hit = first_bad(x, lambda v: ~np.isfinite(v))
        if hit:
            return BadEntry(*hit, "is not a finite number", "remove or impute missing values")
        return None
