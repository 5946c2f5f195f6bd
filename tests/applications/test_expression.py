"""Denoised and batch-corrected expression: library scaling and decoding under a reference batch."""

from __future__ import annotations

import numpy as np
import pytest

import biovae
from biovae.applications.expression import expression
from biovae.config import DataConfig, FitConfig, ModelConfig, NetworkConfig, TrainConfig
from biovae.errors import ConfigError, DataError
from tests.applications._depth_model import fit_with_depth
from tests.conftest import FIXTURES

anndata = pytest.importorskip("anndata")


@pytest.fixture(scope="module")
def fitted():
    adata = anndata.read_h5ad(FIXTURES / "cellbench_100x200.h5ad")
    cfg = FitConfig(
        model=ModelConfig(n_latent=4, network=NetworkConfig(hidden=(16,))),
        train=TrainConfig(epochs=2, batch_size=32),
        data=DataConfig(categorical_covariates=("batch",)),
    )
    return adata, biovae.VAE(likelihood="nb", config=cfg).fit(adata)


def test_denoised_expression_sums_to_the_common_library_size(fitted):
    adata, est = fitted
    out = expression(est, adata, library_size=1e4)
    assert out.shape == adata.shape
    np.testing.assert_allclose(out.sum(1), 1e4, rtol=1e-4)


def test_zinb_denoised_expression_is_the_nb_part_without_its_zero_inflation(fitted):
    """As scvi-tools' get_normalized_expression: library_size · softmax(ρ), summing to it; the
    ZINB mean (1 − π) · ℓ · softmax(ρ) is the detection-weighted count, not expression."""
    adata = fitted[0]
    cfg = FitConfig(
        model=ModelConfig(n_latent=3, network=NetworkConfig(hidden=(8,))),
        train=TrainConfig(epochs=2, batch_size=32),
    )
    est = biovae.VAE(likelihood="zinb", config=cfg).fit(adata)
    out = expression(est, adata, library_size=1e4)
    np.testing.assert_allclose(out.sum(1), 1e4, rtol=1e-4)
    mean = est.reconstruct(adata)  # (1 − π) · ℓ_observed · softmax(ρ)
    library = np.asarray(adata.X.sum(1)).ravel()
    assert np.all(mean.sum(1) < library * (1 - 1e-3))  # the zero inflation takes a share


def test_reference_batch_changes_only_the_other_batch(fitted):
    adata, est = fitted
    denoised = expression(est, adata)
    batch = adata.obs["batch"].astype(str).to_numpy()
    ref = sorted(set(batch))[0]
    corrected = expression(est, adata, batch_key="batch", reference=ref)
    own = batch == ref
    np.testing.assert_allclose(corrected[own], denoised[own], rtol=1e-5)
    assert np.abs(corrected[~own] - denoised[~own]).max() > 1e-3
    np.testing.assert_allclose(corrected.sum(1), 1e4, rtol=1e-4)


def test_bad_requests_are_one_line_errors(fitted):
    adata, est = fitted
    with pytest.raises(DataError, match="no level 'nowhere'"):
        expression(est, adata, batch_key="batch", reference="nowhere")
    with pytest.raises(ConfigError, match="not a categorical covariate"):
        expression(est, adata, batch_key="cell_line", reference="H1975")
    with pytest.raises(ConfigError, match="both batch_key and reference"):
        expression(est, adata, batch_key="batch")


def test_tl_expression_and_pseudotime_write_layers_and_obs(fitted):
    adata, est = fitted
    adata = adata.copy()
    ref = str(adata.obs["batch"].iloc[0])
    biovae.tl.expression(adata, est, key_added="corrected", reference_batch=ref)
    assert adata.layers["corrected"].shape == adata.shape
    adata.obsm["X_biovae"] = est.transform(adata)
    biovae.tl.pseudotime(adata, root_key="batch", root_value=ref)
    t = adata.obs["biovae_pseudotime"].to_numpy()
    assert np.nanmin(t) == 0.0 and np.nanmax(t) == pytest.approx(1.0)
    root = adata.uns["biovae_pseudotime"]["root"]
    assert str(adata.obs.loc[root, "batch"]) == ref


@pytest.mark.parametrize("size", [0, -5.0, float("nan"), float("inf"), "1e4", True])
def test_a_library_size_that_is_not_a_positive_number_is_refused(fitted, size):
    # a negative or NaN size gave a layer of NaN, an infinite one of inf, and text a TypeError
    adata, est = fitted
    with pytest.raises(ConfigError, match=r"^library_size must be a positive number"):
        biovae.tl.expression(adata.copy(), est, library_size=size)


def test_the_layer_the_model_was_fitted_on_is_read_by_default(fitted):
    """A model fitted on layers["counts"] decoded X (log-normalised here: refused, or any
    other integer matrix there decoded without a word) unless layer= was given again."""
    adata, _ = fitted
    adata = adata.copy()
    adata.layers["counts"] = adata.X.copy()
    adata.X = np.log1p(adata.X.toarray())
    cfg = FitConfig(
        model=ModelConfig(n_latent=2, network=NetworkConfig(hidden=(8,))),
        train=TrainConfig(epochs=1, batch_size=32),
        data=DataConfig(layer="counts"),
    )
    est = biovae.VAE(likelihood="nb", config=cfg).fit(adata)
    np.testing.assert_array_equal(expression(est, adata), expression(est, adata, layer="counts"))


@pytest.mark.parametrize(
    "call",
    [
        lambda a, est: biovae.tl.expression(a, est),
        lambda a, est: biovae.tl.expression(a, est, reference_batch="celseq2"),
        lambda a, est: biovae.tl.differential_expression(a, est, groupby="batch"),
        lambda a, est: biovae.tl.differential_expression(
            a, est, groupby="batch", group1="celseq2", batch_correction=True
        ),
    ],
    ids=["expression", "reference_batch", "one_vs_rest", "batch_correction"],
)
def test_an_unfitted_model_is_a_one_line_error_not_an_attribute_error(fitted, call):
    """These read est.config_ or est.schema_ before checking the model was fitted."""
    adata, _ = fitted
    with pytest.raises(ConfigError, match="not an unfitted model"):
        call(adata.copy(), biovae.VAE(likelihood="nb"))


def test_a_bad_covariate_under_a_reference_batch_names_the_data_and_record(fitted):
    """The records' own covariates are encoded with the reference level: an error in them
    named the source 'reference' and no record id, not the data the user gave."""
    adata, _ = fitted
    adata = adata.copy()
    est = fit_with_depth(adata)
    adata.obs.loc[adata.obs_names[2], "depth"] = np.nan
    ref = adata.obs["batch"].astype(str).iloc[0]
    named = rf"^AnnData: .*'depth'.* record 3 \('{adata.obs_names[2]}'\)"
    with pytest.raises(DataError, match=named):
        expression(est, adata, batch_key="batch", reference=ref)
