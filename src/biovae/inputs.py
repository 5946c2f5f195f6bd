"""Turn what a Python user passes (arrays, data frames, AnnData, Dataset) into a Dataset."""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from biovae.data.dataset import Dataset
from biovae.errors import DataError


def as_dataset(X: Any, obs: Any = None, *, layer: str | None = None) -> Dataset:
    """A :class:`~biovae.data.dataset.Dataset` from ``X`` and optional metadata ``obs``.

    ``X`` may be a Dataset, a numpy array or scipy sparse matrix (records × features), a pandas
    DataFrame (index = record ids), or an AnnData object (``layer`` picks a layer instead of
    ``X``; ``obs`` defaults to ``adata.obs``). ``obs`` is a dict of columns or a DataFrame.
    """
    if isinstance(X, Dataset):
        if obs is None:
            return X
        return Dataset(
            X.x, X.ids, X.features, {**X.obs, **obs_columns(obs, len(X))}, X.alphabet, X.source
        )
    if _is_anndata(X):
        return _from_anndata(X, obs, layer)
    if hasattr(X, "to_numpy") and hasattr(X, "columns"):
        return Dataset(
            X.to_numpy(dtype=np.float32),
            X.index.astype(str),
            tuple(X.columns),
            obs_columns(obs, len(X)),
            source="DataFrame",
        )
    if sp.issparse(X):
        mat = sp.csr_matrix(X, dtype=np.float32)
    else:
        mat = np.asarray(X, dtype=np.float32)
        if mat.ndim != 2:
            raise DataError(f"X must be 2-D (records × features), got shape {mat.shape}")
    n, f = mat.shape
    return Dataset(
        mat,
        np.arange(n).astype(str),
        tuple(f"f{j}" for j in range(f)),
        obs_columns(obs, n),
        source="array",
    )


def _is_anndata(X: Any) -> bool:
    return type(X).__name__ == "AnnData" and hasattr(X, "obs") and hasattr(X, "var_names")


def _from_anndata(adata: Any, obs: Any, layer: str | None) -> Dataset:
    if layer is not None and layer not in adata.layers:
        raise DataError(
            f"AnnData has no layer {layer!r} (layers: {', '.join(adata.layers) or 'none'}); "
            "pass an existing layer or None for X"
        )
    mat = adata.layers[layer] if layer is not None else adata.X
    mat = sp.csr_matrix(mat, dtype=np.float32) if sp.issparse(mat) else np.asarray(mat, np.float32)
    columns = obs_columns(adata.obs if obs is None else obs, adata.n_obs)
    return Dataset(
        mat, np.asarray(adata.obs_names), tuple(adata.var_names), columns, source="AnnData"
    )


def obs_columns(obs: Any, n: int) -> dict[str, np.ndarray]:
    if obs is None:
        return {}
    if hasattr(obs, "columns"):
        out = {}
        for name in obs.columns:
            col = obs[name]
            numeric = col.dtype.kind in "iufb"
            out[str(name)] = (
                col.to_numpy(dtype=np.float64)
                if numeric
                else col.astype(str).to_numpy(dtype=object)
            )
        return out
    if isinstance(obs, dict):
        return {str(k): np.asarray(v) for k, v in obs.items()}
    raise DataError(f"obs must be a dict of columns or a DataFrame, got {type(obs).__name__}")
