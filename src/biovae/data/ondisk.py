"""Matrices that stay on disk and are read a block of rows at a time: data larger than memory.

A :class:`RowStore` is what :class:`~biovae.data.dataset.Dataset` holds as ``x`` when a file is
opened for streaming (``read_h5ad(..., stream=True)``, ``read_npy(..., stream=True)``, a backed
AnnData, or the command line's ``--stream``). It reads

* ``.h5ad`` matrices (``X`` or a layer) through h5py: CSR groups row by row — runs of
  consecutive rows in one read — and dense datasets by row; CSC matrices are refused (their
  rows are scattered over the whole file). A CSR row is checked for an entry stored twice on
  its first read by a reader (its entries are stored together), not again in later epochs;
* ``.npy`` arrays through a read-only memory map, stored in row (C) order; Fortran-ordered
  arrays are refused, for the same reason as CSC.

Whole-matrix work (validation, library sizes, the fingerprint) goes through :meth:`blocks`, in
row order, so memory stays bounded by ``block_rows`` rows whatever the number of records; a
subset of the records (a train/held-out split: :meth:`RowStore.subset`) is a store of its own
over the same file, read the same way.
Memory maps are advised of the access pattern: random (no read-ahead) for the scattered rows of
minibatches — otherwise each page fault on a cold file reads ahead megabytes that a memory
limit evicts before they are used — and normal read-ahead for the row-order passes.
``np.asarray(store)`` loads everything, for code that needs the matrix in memory (PCA).
"""

from __future__ import annotations

import mmap
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from biovae.data._entries import check_real, check_single_entries
from biovae.data._messages import preview, raw_counts_hint
from biovae.errors import DataError, require

Block = np.ndarray | sp.csr_matrix

#: record ids and feature names of a file's matrix, for its error messages (none: numbers)
Names = tuple[Sequence[str], Sequence[str]]

#: rows per block of whole-matrix passes (a few MB for thousands of genes)
BLOCK_ROWS = 4096

#: how a matrix that cannot be streamed is read whole instead (``--stream`` may come saved
#: with a model, which the commands that read data for it take unless told ``--no-stream``)
WHOLE = "without --stream, or with --no-stream for a model fitted with it"


class RowStore:
    """Rows of an on-disk ``(n, f)`` matrix as float32 (CSR blocks when stored sparse)."""

    def __init__(self, reader: _Reader, source: str, block_rows: int | None = None) -> None:
        self._reader = reader
        self.shape: tuple[int, int] = reader.shape
        self.sparse = reader.sparse
        self.source = source
        self.block_rows = block_rows or BLOCK_ROWS
        self.ndim = 2
        self.dtype = np.dtype(np.float32)

    def __len__(self) -> int:
        return self.shape[0]

    def rows(self, idx: np.ndarray) -> Block:
        """Records ``idx`` (any order, repeats allowed), in that order."""
        idx = np.asarray(idx, dtype=np.int64).ravel()
        if not len(idx):  # no rows (an empty selection): nothing to read, nor to join
            empty = np.zeros((0, self.shape[1]), np.float32)
            return sp.csr_matrix(empty) if self.sparse else empty
        self._reader.advise(scattered=True)
        return _read_any(self._reader, idx)

    def subset(self, idx: np.ndarray) -> RowStore:
        """Records ``idx`` (any order, repeats allowed; negative counts from the end) as a
        store of their own, still on disk: a train/held-out split reads no record."""
        idx = np.asarray(idx, dtype=np.int64).ravel()
        n = self.shape[0]
        if len(idx) and (idx.min() < -n or idx.max() >= n):
            raise IndexError(f"record index out of range for {n} records")
        return RowStore(_Picked(self._reader, idx % max(n, 1)), self.source, self.block_rows)

    def blocks(self) -> Iterator[tuple[int, Block]]:
        """``(first row, block)`` over the whole matrix, in row order."""
        self._reader.advise(scattered=False)
        for start in range(0, self.shape[0], self.block_rows):
            stop = min(start + self.block_rows, self.shape[0])
            yield start, self._reader.read(np.arange(start, stop))

    def first(self, find: Callable[[Block], tuple | None]) -> tuple | None:
        """The first hit of ``find`` (``(row, column, ...)`` within a block) over all blocks,
        with the row counted from the top of the matrix."""
        for start, block in self.blocks():
            hit = find(block)
            if hit is not None:
                return (hit[0] + start, *hit[1:])
        return None

    def sum(self, axis: int) -> np.ndarray:
        """Row sums (``axis=1``), float64, ``(n, 1)`` like a scipy matrix's."""
        if axis != 1:
            raise ValueError("a RowStore sums rows only (axis=1)")
        parts = [np.asarray(b.sum(axis=1), dtype=np.float64).reshape(-1) for _, b in self.blocks()]
        return np.concatenate(parts)[:, None]

    def __getitem__(self, key: Any) -> Any:
        """``store[i, j]`` one value; ``store[idx]`` rows in memory (as :meth:`rows`)."""
        if isinstance(key, tuple):
            row, col = key
            return self.rows(np.array([row]))[0, col]
        return self.rows(np.arange(self.shape[0])[key])

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        dense = [b.toarray() if sp.issparse(b) else b for _, b in self.blocks()]
        out = np.concatenate(dense) if dense else np.zeros(self.shape, np.float32)
        return out.astype(dtype, copy=False) if dtype is not None else out


def _increasing(idx: np.ndarray) -> bool:
    return bool(np.all(idx[1:] > idx[:-1]))


def _read_any(reader: _Reader, idx: np.ndarray) -> Block:
    """Rows ``idx`` (non-empty, any order, repeats allowed) of ``reader``, in that order:
    each distinct row read once, in increasing order, as readers take them."""
    unique, inverse = np.unique(idx, return_inverse=True)
    block = reader.read(unique)
    return block[inverse] if len(unique) != len(idx) or not _increasing(idx) else block


class _Reader:
    shape: tuple[int, int]
    sparse: bool

    def read(self, rows: np.ndarray) -> Block:  # strictly increasing rows
        raise NotImplementedError

    def advise(self, scattered: bool) -> None:
        """Tell memory maps how the next reads go (nothing to do for h5py reads)."""


class _Picked(_Reader):
    """Rows ``picked`` of another reader, in that order (:meth:`RowStore.subset`); a subset
    of a subset picks rows of the first reader."""

    def __init__(self, reader: _Reader, picked: np.ndarray) -> None:
        if isinstance(reader, _Picked):
            reader, picked = reader.reader, reader.picked[picked]
        self.reader, self.picked = reader, picked
        self.shape = (len(picked), reader.shape[1])
        self.sparse = reader.sparse

    def advise(self, scattered: bool) -> None:
        self.reader.advise(scattered)

    def read(self, rows: np.ndarray) -> Block:
        return _read_any(self.reader, self.picked[rows])


class _Advice:
    """The access pattern last advised for one memory map (one syscall per change)."""

    def __init__(self) -> None:
        self.scattered: bool | None = None

    def apply(self, array: np.ndarray | None, scattered: bool) -> None:
        raw = getattr(array, "_mmap", None)  # np.memmap's mmap object
        if raw is None or not hasattr(raw, "madvise") or scattered == self.scattered:
            return
        raw.madvise(mmap.MADV_RANDOM if scattered else mmap.MADV_NORMAL)
        self.scattered = scattered


class NpyReader(_Reader):
    def __init__(self, array: np.ndarray) -> None:
        self.array = array
        self.shape = tuple(int(s) for s in array.shape)
        self.sparse = False
        self._advice = _Advice()

    def advise(self, scattered: bool) -> None:
        self._advice.apply(self.array, scattered)

    def read(self, rows: np.ndarray) -> np.ndarray:
        with np.errstate(over="ignore"):  # beyond float32 -> inf, which validation reports
            return np.asarray(self.array[rows], dtype=np.float32)


class _H5DenseReader(_Reader):
    def __init__(self, dataset) -> None:
        check_real(dataset.dtype, dataset.file.filename, dataset.name)
        self.dataset = dataset
        self.shape = tuple(int(s) for s in dataset.shape)
        self.sparse = False

    def read(self, rows: np.ndarray) -> np.ndarray:
        parts = [self.dataset[a:b] for a, b in _runs(rows)]
        with np.errstate(over="ignore"):  # beyond float32 -> inf, which validation reports
            return np.concatenate(parts).astype(np.float32, copy=False)


class _H5CsrReader(_Reader):
    """A CSR group (``data``, ``indices``, ``indptr``, attribute ``shape``); ``indptr`` is
    held in memory (8 bytes per record), and which records were checked for a repeated entry
    (1 byte each; a file opened again is checked anew). ``names`` (record ids, feature names of
    all columns) name a repeated entry in the error; ``source`` is the file as the user gave it."""

    def __init__(self, group, shape=None, columns=None, names: Names = ((), ()), source=None):
        check_real(group["data"].dtype, group.file.filename, group["data"].name)
        self.data, self.indices = _direct_or_h5(group["data"]), _direct_or_h5(group["indices"])
        self.indptr = np.asarray(group["indptr"][:], dtype=np.int64)
        self.full_shape = tuple(
            int(s) for s in (shape if shape is not None else group.attrs["shape"])
        )
        self.columns = columns  # the kept columns, or all
        self.where = f"{getattr(group.file, 'filename', 'file')}: the sparse matrix {group.name}"
        self.names = names
        self.source = source or getattr(group.file, "filename", "file")
        width = self.full_shape[1] if columns is None else len(columns)
        self.shape = (self.full_shape[0], width)
        self.sparse = True
        n_values = len(group["data"])
        ip = self.indptr
        if (
            len(ip) != self.full_shape[0] + 1
            or ip[0] != 0
            or ip[-1] != n_values
            or len(group["indices"]) != n_values
            or (np.diff(ip) < 0).any()
        ):
            raise DataError(
                f"{self.where} is malformed (indptr does not match its rows or values); write it "
                "again with anndata"
            )
        self._checked = np.zeros(self.full_shape[0], dtype=bool)

    def advise(self, scattered: bool) -> None:
        for part in (self.data, self.indices):
            if isinstance(part, _Direct):
                part.advise(scattered)

    def read(self, rows: np.ndarray) -> sp.csr_matrix:
        runs = _runs(rows)
        lo = self.indptr[[a for a, _ in runs]].tolist()
        hi = self.indptr[[b for _, b in runs]].tolist()
        data = [self.data[a:b] for a, b in zip(lo, hi)]
        indices = [self.indices[a:b] for a, b in zip(lo, hi)]
        indptr = np.concatenate([[0], np.cumsum(self.indptr[rows + 1] - self.indptr[rows])])
        with np.errstate(over="ignore"):  # beyond float32 -> inf, which validation reports
            values = np.concatenate(data).astype(np.float32, copy=False)
        columns = np.concatenate(indices)
        if len(columns) and (columns.min() < 0 or columns.max() >= self.full_shape[1]):
            self._bad_column(rows, indptr, columns)
        block = sp.csr_matrix((values, columns, indptr), shape=(len(rows), self.full_shape[1]))
        if not self._checked[rows].all():  # all columns, as in memory; marked once it passed
            check_single_entries(block, *self.names, self.source, rows)
            self._checked[rows] = True
        return block if self.columns is None else block[:, self.columns]

    def _bad_column(self, rows: np.ndarray, indptr: np.ndarray, columns: np.ndarray) -> None:
        """The one-line error for a column index outside the matrix, naming its row."""
        at = int(np.flatnonzero((columns < 0) | (columns >= self.full_shape[1]))[0])
        row = int(rows[np.searchsorted(indptr, at, side="right") - 1])
        raise DataError(
            f"{self.where} is malformed: row {row + 1} has column index {int(columns[at])}, "
            f"outside 0 .. {self.full_shape[1] - 1}; write it again with anndata"
        )


class _Direct:
    """Elements of an unfiltered 1-D HDF5 dataset read straight from the file's bytes through a
    read-only memory map (a slice costs microseconds, where an h5py read of a small range costs
    tens, holding the GIL). The chunk table is read once; anything unusual goes to h5py."""

    def __init__(self, dataset) -> None:
        self.path = dataset.file.filename
        self.dtype = dataset.dtype
        self.n = int(dataset.shape[0])
        dcpl = dataset.id.get_create_plist()
        if dcpl.get_layout() == _h5py().h5d.CONTIGUOUS:
            self.chunk, self.offsets = max(self.n, 1), np.array([dataset.id.get_offset()])
        else:
            self.chunk = int(dataset.chunks[0])
            count = dataset.id.get_num_chunks()
            table = [dataset.id.get_chunk_info(i) for i in range(count)]
            if any(t.chunk_offset[0] != i * self.chunk for i, t in enumerate(table)):
                raise ValueError("chunks are not stored in index order")  # use h5py instead
            self.offsets = np.array([t.byte_offset for t in table], dtype=np.int64)
        self._bytes: np.memmap | None = None
        self._advice, self._scattered = _Advice(), False

    def advise(self, scattered: bool) -> None:
        self._scattered = scattered
        self._advice.apply(self._bytes, scattered)

    def __getitem__(self, key: slice) -> np.ndarray:
        lo, hi = key.start, key.stop
        if hi <= lo:
            return np.empty(0, self.dtype)
        if self._bytes is None:
            self._bytes = np.memmap(self.path, dtype=np.uint8, mode="r")
            self._advice.apply(self._bytes, self._scattered)
        size, parts = self.dtype.itemsize, []
        for k in range(lo // self.chunk, (hi - 1) // self.chunk + 1):
            a, b = max(lo, k * self.chunk) - k * self.chunk, min(hi, (k + 1) * self.chunk)
            start = int(self.offsets[k]) + a * size
            parts.append(self._bytes[start : start + (b - k * self.chunk - a) * size])
        raw = parts[0] if len(parts) == 1 else np.concatenate(parts)
        return raw.view(self.dtype)


def _direct_or_h5(dataset):
    """:class:`_Direct` where the bytes can be read as they are (no compression or other
    filter, native byte order, 1-D, the default file driver), else the h5py dataset."""
    try:
        if (
            dataset.ndim == 1
            and dataset.dtype.isnative
            and dataset.dtype.kind in "iuf"
            and dataset.file.driver == "sec2"
            and dataset.id.get_create_plist().get_nfilters() == 0
            and dataset.external is None
        ):
            return _Direct(dataset)
    except (AttributeError, TypeError, ValueError, RuntimeError):
        pass
    return dataset


def _h5py():
    return require("h5py", "singlecell")


def _runs(rows: np.ndarray) -> list[tuple[int, int]]:
    """Half-open ranges of consecutive values in strictly increasing ``rows``."""
    if len(rows) == 0:
        return []
    breaks = np.flatnonzero(np.diff(rows) != 1) + 1
    starts = np.concatenate([[0], breaks])
    stops = np.concatenate([breaks, [len(rows)]])
    return [(int(rows[s]), int(rows[e - 1]) + 1) for s, e in zip(starts, stops)]


def open_h5ad_matrix(
    path: str | Path, layer: str | None = None, names: Names = ((), ())
) -> RowStore:
    """``X`` (or ``layers/<layer>``) of an ``.h5ad`` file, left on disk; ``names`` (obs
    names, var names) name the record and feature of a repeated sparse entry."""
    h5py = require("h5py", "singlecell")
    where = f"layers/{layer}" if layer is not None else "X"
    try:
        handle = h5py.File(path, "r")
    except OSError as exc:
        raise DataError(f"{path}: not a readable .h5ad (HDF5) file ({exc})") from exc
    if where not in handle:
        message = _no_matrix(handle, where)
        handle.close()
        raise DataError(f"{path}: {message}")
    node = handle[where]
    if isinstance(node, h5py.Dataset):
        if node.ndim != 2:
            raise DataError(f"{path}: '{where}' has shape {node.shape}, expected 2-D")
        return RowStore(_H5DenseReader(node), str(path))
    kind = node.attrs.get("encoding-type", node.attrs.get("h5sparse_format", ""))
    kind = kind.decode() if isinstance(kind, bytes) else str(kind)
    if kind not in ("csr_matrix", "csr"):
        slot = "adata.X" if layer is None else f"adata.layers[{layer!r}]"
        raise DataError(
            f"{path}: '{where}' is stored as {kind or 'an unknown encoding'}; streaming reads "
            f"rows, so store it CSR ({slot} = scipy.sparse.csr_matrix({slot}); "
            f"adata.write_h5ad(path)) or read it into memory ({WHOLE}; a backed AnnData: "
            "adata.to_memory())"
        )
    return RowStore(_H5CsrReader(node, names=names, source=str(path)), str(path))


def _no_matrix(handle, where: str) -> str:
    """Why ``where`` cannot be streamed from an open ``.h5ad``: the layers it does have, and
    the fix for counts kept in ``raw/X``."""
    layers = list(handle["layers"].keys()) if "layers" in handle else []
    message = f"no matrix at '{where}'; available layers: {preview(layers)}"
    message += " (omit the layer option to read X)" if where != "X" else ""
    if "raw/X" in handle:
        raw = handle["raw/X"]
        shape = raw.shape if hasattr(raw, "shape") else raw.attrs["shape"]  # dense or CSR
        message += f"; the file's {raw_counts_hint(int(shape[1]))}"
    return message


def open_csr_rows(
    path: str | Path, where: str, shape: tuple[int, int], columns=None, names: Names = ((), ())
) -> RowStore:
    """Rows of the CSR arrays (``data``, ``indices``, ``indptr``) in group ``where`` of an HDF5
    file, of shape ``shape``, keeping ``columns`` (e.g. a 10x matrix: genes x cells stored CSC
    are cells x genes CSR: a cell's genes are stored together); ``names``: record ids and the
    names of all ``shape[1]`` features."""
    h5py = require("h5py", "singlecell")
    reader = _H5CsrReader(h5py.File(path, "r")[where], shape, columns, names, str(path))
    return RowStore(reader, str(path))
