"""Batch-corrected differential expression of a model with a continuous covariate as well."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from biovae.applications import differential as de
from tests.applications._depth_model import fit_with_depth
from tests.conftest import FIXTURES

anndata = pytest.importorskip("anndata")


def test_batch_correction_warns_once_of_a_covariate_beyond_its_range_naming_the_data():
    """The draws are decoded under each batch with the cells' own continuous covariates: they
    were encoded again per draw, repeating the range warning with the draws' numbers
    ("data: ... for 5000 record(s) ... record 9"), which name no cell of the data."""
    adata = anndata.read_h5ad(FIXTURES / "cellbench_100x200.h5ad")
    est = fit_with_depth(adata)
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
