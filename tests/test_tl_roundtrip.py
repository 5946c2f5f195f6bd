"""What ``biovae.tl`` writes into an AnnData survives ``write_h5ad``/``write_zarr`` and reading
back, for the options a scanpy user combines, and keys the formats cannot hold are refused."""

from __future__ import annotations

import dataclasses
import shutil
import warnings

import numpy as np
import pandas as pd
import pytest

import biovae
from biovae.config import FitConfig, ModelConfig, NetworkConfig, TrainConfig
from biovae.errors import ConfigError

anndata = pytest.importorskip("anndata")


def _cfg():
    return FitConfig(
        model=ModelConfig(network=NetworkConfig(hidden=(16,))),
        train=TrainConfig(epochs=2, batch_size=32),
    )


def _dense(x):
    return x.toarray() if hasattr(x, "toarray") else np.asarray(x)


def _same_uns(written, read):
    """``read`` holds ``written``'s values (a list comes back as an array, as anndata does)."""
    assert set(written) == set(read)
    for key, value in written.items():
        if isinstance(value, dict):
            _same_uns(value, read[key])
        elif isinstance(value, (list, tuple, np.ndarray)):
            assert [str(v) for v in value] == [str(v) for v in read[key]], key
        elif isinstance(value, float):
            np.testing.assert_equal(read[key], value)
        else:
            same_kind = isinstance(read[key], (str, np.str_)) == isinstance(value, str)
            assert read[key] == value and same_kind, key  # older anndata: numpy scalars


def _same(adata, back):
    assert list(back.obsm) == list(adata.obsm) and set(back.layers) == set(adata.layers)
    for key in adata.obsm:
        np.testing.assert_array_equal(back.obsm[key], adata.obsm[key])
    for key in adata.layers:
        assert back.layers[key].dtype == adata.layers[key].dtype
        np.testing.assert_array_equal(_dense(back.layers[key]), _dense(adata.layers[key]))
    pd.testing.assert_frame_equal(back.obs, adata.obs)
    _same_uns(dict(adata.uns), dict(back.uns))


def test_two_fits_and_expression_layers_survive_h5ad_and_zarr(fixtures, tmp_path):
    adata = anndata.read_h5ad(fixtures / "cellbench_100x200.h5ad")
    adata.layers["counts"] = adata.X.copy()
    labels = adata.obs["cell_line"].astype(str).to_numpy().copy()
    labels[::3] = "Unknown"
    adata.obs["partial"] = pd.Categorical(labels)
    est = biovae.tl.vae(adata, layer="counts", batch_key="batch", n_latent=2, config=_cfg())
    first = {k: v for k, v in adata.uns["X_biovae"].items()}
    biovae.tl.vae(
        adata,
        layer="counts",
        batch_key="batch",
        labels_key="partial",
        unlabeled_category="Unknown",
        key_added="X_scanvi",
        n_latent=2,
        config=_cfg(),
    )
    biovae.tl.expression(adata, est, key_added="denoised")
    biovae.tl.expression(adata, est, key_added="corrected", reference_batch="celseq2")
    assert dict(adata.uns["X_biovae"]) == first  # the second key left the first's alone
    assert {"X_biovae", "X_scanvi"} <= set(adata.obsm) and "X_scanvi_label" in adata.obs
    adata.write_h5ad(tmp_path / "a.h5ad")
    _same(adata, anndata.read_h5ad(tmp_path / "a.h5ad"))
    pytest.importorskip("zarr")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # zarr's notice of its format version
        adata.write_zarr(tmp_path / "a.zarr")
    _same(adata, anndata.read_zarr(tmp_path / "a.zarr"))


def test_a_backed_anndata_takes_the_results_in_memory_and_writes_them(fixtures, tmp_path):
    path = shutil.copy(fixtures / "cellbench_100x200.h5ad", tmp_path / "c.h5ad")
    backed = anndata.read_h5ad(path, backed="r")
    est = biovae.tl.vae(backed, batch_key="batch", n_latent=2, config=_cfg())
    biovae.tl.expression(backed, est, key_added="corrected", reference_batch="celseq2")
    assert backed.isbacked and backed.layers["corrected"].shape == (100, 200)
    backed.write_h5ad(tmp_path / "out.h5ad")
    back = anndata.read_h5ad(tmp_path / "out.h5ad")
    np.testing.assert_array_equal(back.obsm["X_biovae"], backed.obsm["X_biovae"])
    np.testing.assert_array_equal(back.layers["corrected"], backed.layers["corrected"])
    assert back.uns["corrected"]["reference_batch"] == "celseq2"


def test_covariates_given_through_the_config_are_recorded_in_uns(fixtures, tmp_path):
    """A fit conditioned through ``config.data`` (not ``batch_key=``) recorded batch_key ''
    and nothing of its covariates: uns now names every column z was conditioned on."""
    from biovae.config import DataConfig

    adata = anndata.read_h5ad(fixtures / "cellbench_100x200.h5ad")
    data = DataConfig(
        categorical_covariates=("demuxlet_cls", "batch"),
        continuous_covariates=("non_mt_percent", "non_ribo_percent"),
    )
    biovae.tl.vae(adata, n_latent=2, config=dataclasses.replace(_cfg(), data=data))
    biovae.tl.vae(adata, batch_key="batch", n_latent=2, key_added="X_c_batch", config=_cfg())
    biovae.tl.vae(adata, n_latent=2, key_added="X_plain", config=_cfg())
    recorded = {
        key: (adata.uns[key]["categorical_covariates"], adata.uns[key]["continuous_covariates"])
        for key in ("X_biovae", "X_c_batch", "X_plain")
    }
    assert recorded == {
        "X_biovae": (["demuxlet_cls", "batch"], ["non_mt_percent", "non_ribo_percent"]),
        "X_c_batch": (["batch"], []),  # the batch key is the first categorical covariate
        "X_plain": ([], []),
    }
    assert adata.uns["X_biovae"]["batch_key"] == ""
    adata.write_h5ad(tmp_path / "c.h5ad")
    _same(adata, anndata.read_h5ad(tmp_path / "c.h5ad"))


# each was taken by h5ad and failed in write_zarr after the fit ("..", zarr's metadata names)
# or came back from read_zarr as a dict of nested groups ("a\\b")
@pytest.mark.parametrize("key", ["..", "a\\b", ".zattrs", ".zgroup", "zarr.json"])
def test_a_key_zarr_cannot_hold_is_refused_before_fitting(fixtures, key):
    from biovae.tl_checks import check_key

    adata = anndata.read_h5ad(fixtures / "cellbench_100x200.h5ad")
    with pytest.raises(ConfigError, match="key_added must be a non-empty name without '/'"):
        biovae.tl.vae(adata, key_added=key, config=_cfg())
    assert list(adata.obsm) == [] and list(adata.uns) == []
    with pytest.raises(ConfigError, match=r"--key-added must be .*zarr"):
        check_key(key, "--key-added")


@pytest.mark.parametrize("key", ["...", "X biovae", "__x", "é"])
def test_keys_both_formats_hold_are_taken(key):
    from biovae.tl_checks import check_key

    check_key(key)  # no error
