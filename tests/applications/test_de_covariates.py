"""Batch-corrected differential expression of a model with a continuous covariate as well."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import biovae
from biovae.applications import differential as de
from biovae.config import DataConfig, FitConfig, ModelConfig, NetworkConfig, TrainConfig
from tests.conftest import FIXTURES

anndata = pytest.importorskip("anndata")


def test_batch_correction_warns_once_of_a_covariate_beyond_its_range_naming_the_data():
    """The draws are decoded under each batch with the cells' own continuous covariates: they
    were encoded again per draw, repeating the range warning with the draws' numbers
    ("data: ... for 5000 record(s) ... record 9"), which name no cell of the data."""
    adata = anndata.read_h5ad(FIXTURES / "cellbench_100x200.h5ad")
    adata.obs["depth"] = np.log10(np.asarray(adata.X.sum(1)).ravel() + 1.0)
    cfg = FitConfig(
        model=ModelConfig(n_latent=2, network=NetworkConfig(hidden=(8,))),
        train=TrainConfig(epochs=1, batch_size=32),
        data=DataConfig(batch_key="batch", continuous_covariates=("depth",)),
    )
    est = biovae.VAE(likelihood="nb", config=cfg).fit(adata)
    adata.obs["depth"] += 5.0
    group = adata.obs["cell_line"].astype(str).iloc[0]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        table = de.differential_expression(
            est, adata, groupby="cell_line", group1=group, batch_key="batch"
        )
    ranges = [str(w.message) for w in caught if "training range" in str(w.message)]
    assert len(ranges) == 1 and ranges[0].startswith("AnnData: continuous covariate 'depth'")
    assert np.isfinite(table["lfc_mean"]).all()
