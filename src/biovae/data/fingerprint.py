"""A content hash of a data set, stored with a trained model to recognise its training data."""

from __future__ import annotations

import hashlib

import numpy as np
import scipy.sparse as sp

from biovae.data.dataset import Dataset
from biovae.data.ondisk import RowStore


def fingerprint(ds: Dataset) -> str:
    """Hash the matrix, record ids, feature names and alphabet of a data set.

    Sparse matrices are hashed through their CSR arrays (data, indices, indptr; indices in
    canonical sorted form, index arrays as int64) and are never densified, so a dense and a
    sparse copy of the same values give different fingerprints, while two sparse copies that
    differ only in their index dtype give the same one.

    Parameters
    ----------
    ds
        The data set.

    Returns
    -------
    str
        ``"sha256:<64 hex digits>"``.
    """
    h = hashlib.sha256()
    if isinstance(ds.x, RowStore):
        _update_store(h, ds.x)
    elif sp.issparse(ds.x):
        _update_sparse(h, ds.x)
    else:
        _update_array(h, "dense", np.asarray(ds.x))
    _update_strings(h, "ids", [str(i) for i in ds.ids])
    _update_strings(h, "features", list(ds.features))
    if ds.alphabet is not None:
        _update_strings(h, "alphabet", [ds.alphabet])
    return f"sha256:{h.hexdigest()}"


#: elements per hash update: bounds the temporaries of a dtype conversion
_PIECE = 1 << 22


def _update_array(h: hashlib._Hash, tag: str, a: np.ndarray, dtype=None) -> None:
    """Feed a tag, the shape, the dtype and the C-order bytes of ``a`` (converted to
    ``dtype``), piece by piece: no copy of the whole array is made."""
    a = np.ascontiguousarray(a)
    dtype = np.dtype(dtype or a.dtype)
    h.update(f"{tag}|{a.shape}|{dtype.str}|".encode())
    flat = a.reshape(-1)
    for start in range(0, flat.size, _PIECE):
        h.update(np.ascontiguousarray(flat[start : start + _PIECE], dtype=dtype))


def _update_sparse(h: hashlib._Hash, x: sp.spmatrix) -> None:
    """Feed a CSR matrix through its component arrays."""
    csr = sp.csr_matrix(x)
    if not csr.has_canonical_format:
        csr = csr.copy()
        csr.sum_duplicates()
    h.update(f"csr|{csr.shape}|".encode())
    _update_array(h, "data", csr.data)
    _update_array(h, "indices", csr.indices, np.int64)
    _update_array(h, "indptr", csr.indptr, np.int64)


def _update_store(h: hashlib._Hash, store: RowStore) -> None:
    """The bytes :func:`_update_array` / :func:`_update_sparse` would feed for the matrix in
    memory, fed block by block (a sparse store takes three passes: sizes, values, columns)."""
    if not store.sparse:
        h.update(f"dense|{store.shape}|{store.dtype.str}|".encode())
        for _, block in store.blocks():
            h.update(np.ascontiguousarray(block, dtype=np.float32).tobytes())
        return
    counts = np.concatenate([np.diff(_canonical(b).indptr) for _, b in store.blocks()])
    indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    nnz = int(indptr[-1])
    h.update(f"csr|{store.shape}|".encode())
    h.update(f"data|{(nnz,)}|{np.dtype(np.float32).str}|".encode())
    for _, block in store.blocks():
        h.update(_canonical(block).data.astype(np.float32, copy=False).tobytes())
    h.update(f"indices|{(nnz,)}|{np.dtype(np.int64).str}|".encode())
    for _, block in store.blocks():
        h.update(_canonical(block).indices.astype(np.int64).tobytes())
    _update_array(h, "indptr", indptr)


def _canonical(block: sp.csr_matrix) -> sp.csr_matrix:
    if not block.has_canonical_format:
        block = block.copy()
        block.sum_duplicates()
    return block


def _update_strings(h: hashlib._Hash, tag: str, items: list[str]) -> None:
    """Feed a list of strings unambiguously (count, then NUL-separated UTF-8)."""
    h.update(f"{tag}|{len(items)}|".encode())
    h.update("\x00".join(items).encode("utf-8", errors="surrogatepass"))
