"""AnnData ``.h5ad`` reader (needs the optional ``anndata`` package, extra ``singlecell``)."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from biovae.data._columns import as_text, check_finite, declared_categories, to_obs
from biovae.data._entries import check_real, check_single_entries
from biovae.data._messages import preview, raw_counts_hint
from biovae.data.dataset import Dataset
from biovae.data.ondisk import open_h5ad_matrix
from biovae.errors import DataError, require


def read_h5ad(
    path: str | Path,
    *,
    layer: str | None = None,
    id_column: str | None = None,
    metadata_columns: Sequence[str] = (),
    stream: bool = False,
    allow_missing: bool = False,
) -> Dataset:
    """Read cells x genes from an ``.h5ad`` file.

    Parameters
    ----------
    path
        The file.
    layer
        Read ``adata.layers[layer]`` instead of ``adata.X`` (e.g. ``"counts"``).
    id_column
        An ``obs`` column to use as record ids instead of ``obs_names``.
    metadata_columns
        ``obs`` columns that must exist (all ``obs`` columns are kept).
    stream
        Leave the matrix on disk (:class:`~biovae.data.ondisk.RowStore`, read in blocks; CSR
        or dense, not CSC); ``obs`` and ``var`` are read into memory.
    allow_missing
        NaN entries are missing values (genotypes), not an error; infinities still are.

    Returns
    -------
    Dataset
        Sparse matrices stay sparse (CSR float32), dense ones become float32 arrays;
        ``ids`` = ``obs_names``, ``features`` = ``var_names``, ``obs`` = the ``obs`` columns.
    """
    source = str(path)
    adata = _load(path, stream)
    if stream:
        if adata.n_obs == 0 or adata.n_vars == 0:
            raise DataError(f"{source}: the matrix is empty ({adata.n_obs} x {adata.n_vars})")
        adata.file.close()  # obs and var are in memory; the matrix is read through its own handle
    else:
        x = _matrix(adata, layer, source)
    obs_frame = adata.obs
    for name in [*([id_column] if id_column else []), *metadata_columns]:
        if name not in obs_frame.columns:
            raise DataError(
                f"{source}: obs column '{name}' not found; available obs columns: "
                f"{preview(obs_frame.columns)}"
            )
    ids = _ids(adata, id_column, source)
    features = tuple(str(v) for v in adata.var_names)
    if stream:  # each row is checked for repeated entries on its first read (ondisk.py)
        x = open_h5ad_matrix(path, layer, names=(ids, features))
    check_single_entries(x, ids, features, source)
    check_finite(x, ids, features, source, allow_missing=allow_missing)
    obs = {str(c): to_obs(obs_frame[c]) for c in obs_frame.columns if c != id_column}
    levels = declared_categories(obs_frame)
    return Dataset(x=x, ids=ids, features=features, obs=obs, source=source, categories=levels)


def read_annotations(path: str | Path):
    """The ``obs`` and ``var`` data frames of an ``.h5ad`` file as anndata reads them (their
    dtypes, categories and columns kept), without reading the matrix."""
    adata = _load(path, backed=True)
    try:
        return adata.obs.copy(), adata.var.copy()
    finally:
        adata.file.close()


def _ids(adata, id_column: str | None, source: str) -> np.ndarray:
    """Record ids: ``obs_names``, or the text of the obs column ``id_column``, which must
    give every record an id (a missing value is an error, as in tables)."""
    if not id_column:
        return np.asarray(adata.obs_names, dtype=object)
    ids = as_text(adata.obs[id_column])
    empty = ids == ""
    if empty.any():
        row = int(np.argmax(empty))
        raise DataError(
            f"{source}: record {row + 1} (obs name '{adata.obs_names[row]}'), obs column "
            f"'{id_column}': empty record id; every record needs an id (fill the column in, "
            "or leave out the id column to use the obs names)"
        )
    return ids


def _load(path: str | Path, backed: bool = False):
    """``anndata.read_h5ad`` with any failure turned into one ``DataError`` line."""
    anndata = require("anndata", "singlecell")
    try:
        with warnings.catch_warnings():
            # older anndata (0.10) says so of an empty var/obs index it reads back; nothing
            # for the user to act on (an empty matrix is refused with its own message)
            warnings.filterwarnings("ignore", message="Transforming to str index")
            # repeated var names are made unique by Dataset, which says so once itself, and
            # repeated obs names are refused by Dataset with its own one-line error
            warnings.filterwarnings("ignore", message="Variable names are not unique")
            warnings.filterwarnings("ignore", message="Observation names are not unique")
            return anndata.read_h5ad(path, backed="r" if backed else None)
    except Exception as exc:  # h5py/anndata raise many types for corrupt or foreign files
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(
            f"{path}: not a readable .h5ad file ({reason}); check that it was written with "
            "anndata (AnnData.write_h5ad) and is not truncated"
        ) from exc


def _matrix(adata, layer: str | None, source: str) -> np.ndarray | sp.csr_matrix:
    """``X`` or a layer as float32 (CSR if sparse)."""
    raw = f"; the file's {raw_counts_hint(adata.raw.n_vars)}" if adata.raw is not None else ""
    if layer is not None:
        if layer not in adata.layers:
            raise DataError(
                f"{source}: layer '{layer}' not found; available layers: "
                f"{preview(adata.layers.keys())} (omit the layer option to read X){raw}"
            )
        x = adata.layers[layer]
    else:
        x = adata.X
    if x is None:
        raise DataError(
            f"{source}: the file has no X matrix; pass layer=<name> to read a layer (available "
            f"layers: {preview(adata.layers.keys())}){raw}"
        )
    if adata.n_obs == 0 or adata.n_vars == 0:
        raise DataError(
            f"{source}: the matrix is empty ({adata.n_obs} cells x {adata.n_vars} genes); "
            "check the gene/cell filtering that produced it"
        )
    check_real(x.dtype, source, "X" if layer is None else f"layers/{layer}")
    with np.errstate(over="ignore"):  # beyond float32 -> inf, reported by check_finite
        if sp.issparse(x):
            return _checked_csr(x, source)
        return np.ascontiguousarray(np.asarray(x), dtype=np.float32)


def _checked_csr(x, source: str) -> sp.csr_matrix:
    """``x`` as float32 CSR if its index arrays are consistent (scipy does not check column
    indices on construction: one past the last gene trained silently), else a one-line error."""
    try:
        m = sp.csr_matrix(x, dtype=np.float32)
        m.check_format(full_check=True)
    except ValueError as exc:
        raise DataError(
            f"{source}: the sparse matrix is malformed ({exc}); write it again with anndata"
        ) from None
    return m
