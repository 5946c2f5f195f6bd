"""Batch-corrected differential expression of a model with a continuous covariate as well."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

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


def test_batch_corrected_draws_decode_every_cell_under_every_level(monkeypatch):
    """Draw j is decoded under level j mod L; one cell order repeated round after round put a
    cell at draws m, m + n, …, so with n cells a multiple of L each was decoded under a
    single level, never under the others."""
    from biovae.applications import de_sampling

    adata = anndata.read_h5ad(FIXTURES / "cellbench_100x200.h5ad")
    est = fit_with_depth(adata)
    n_levels = len(adata.obs["batch"].unique())
    picks = []
    original = de_sampling._draw_covariates

    def recording(est_, c, pick, batch_key):
        picks.append(pick.copy())
        return original(est_, c, pick, batch_key)

    monkeypatch.setattr(de_sampling, "_draw_covariates", recording)
    cells = de_sampling.read_cells(est, adata)
    idx = np.arange(2 * n_levels)  # a multiple of the levels
    gen = torch.Generator().manual_seed(0)
    de_sampling.sample_frequencies(est, cells, idx, 400, gen, batch_key="batch")
    pick = picks[0]
    pairs = {(int(cell), j % n_levels) for j, cell in enumerate(pick)}
    assert pairs == {(int(cell), level) for cell in idx for level in range(n_levels)}
    assert np.bincount(pick, minlength=len(idx)).tolist() == [400 // len(idx)] * len(idx)
