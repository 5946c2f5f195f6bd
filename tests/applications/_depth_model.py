"""A conditional NB VAE of a CellBench fixture with a batch and a continuous covariate (log10
library size, ``depth``), for the tests of covariate handling downstream of a fit."""

from __future__ import annotations

from typing import Any

import numpy as np

import biovae
from biovae.config import DataConfig, FitConfig, ModelConfig, NetworkConfig, TrainConfig


def fit_with_depth(adata: Any) -> biovae.VAE:
    """Adds ``obs["depth"]`` to ``adata`` (in place) and fits the model on it."""
    adata.obs["depth"] = np.log10(np.asarray(adata.X.sum(1)).ravel() + 1.0)
    cfg = FitConfig(
        model=ModelConfig(n_latent=2, network=NetworkConfig(hidden=(8,))),
        train=TrainConfig(epochs=1, batch_size=32),
        data=DataConfig(batch_key="batch", continuous_covariates=("depth",)),
    )
    return biovae.VAE(likelihood="nb", config=cfg).fit(adata)
