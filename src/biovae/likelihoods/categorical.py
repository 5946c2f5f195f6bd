"""Categorical likelihood over an alphabet at every sequence position.

p(x|z) = Π_l softmax(logits_l(z))[x_l] for a sequence of L letter codes x_l ∈ {0..A−1}.
Gaps are one more letter of the alphabet. Data are integer codes ``(n, L)``; the encoder sees
them one-hot and flattened ``(n, L·A)``. The data shape is ``(L,)`` with ``n_letters = A``.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor
from torch.distributions import Categorical as TorchCategorical
from torch.distributions import Distribution, Independent

from biovae.config import LikelihoodConfig
from biovae.errors import ConfigError
from biovae.likelihoods.base import BadEntry, Likelihood, first_bad, one_hot
from biovae.setting_names import setting


class Categorical(Likelihood):
    name = "categorical"
    features_text = "one-hot letters per position"
    data_dtype = torch.int64
    integer_data = True
    sequences = True

    def __init__(
        self, data_shape: tuple[int, ...], config: LikelihoodConfig, n_letters: int = 0
    ) -> None:
        super().__init__(data_shape, config, n_letters)
        if n_letters < 2:
            raise ConfigError(
                "the categorical likelihood needs sequence data with an alphabet of >= 2 letters; "
                f"give FASTA/A2M input or a table's {setting('data.sequence_column')}"
            )

    @property
    def n_inputs(self) -> int:
        return self.n_features * self.n_letters

    def outputs(self) -> dict[str, tuple[int, ...]]:
        return {"logits": (*self.data_shape, self.n_letters)}

    def distribution(self, params: dict[str, Tensor], context: dict[str, Tensor]) -> Distribution:
        return Independent(
            TorchCategorical(logits=params["logits"], validate_args=False),
            len(self.data_shape),
            validate_args=False,
        )

    def featurize(self, x: Tensor) -> Tensor:
        return one_hot(x.long(), self.n_letters).flatten(1)

    def defeaturize(self, x_nf: Tensor) -> Tensor:
        return x_nf.reshape(x_nf.shape[0], *self.data_shape, self.n_letters).argmax(-1)

    def expected(self, dist: Distribution) -> Tensor:
        return dist.base_dist.probs

    def validate(self, x: np.ndarray) -> BadEntry | None:
        hit = first_bad(x, lambda v: (v < 0) | (v >= self.n_letters) | (v != np.round(v)))
        if hit:
            return BadEntry(
                *hit,
                f"is not a letter code in 0..{self.n_letters - 1}",
                "encode sequences with the model's alphabet",
            )
        return None
