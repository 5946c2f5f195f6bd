"""Where batches come from.

The training loop only sees the :class:`BatchSource` protocol: a length, and ``batch(idx)``
returning a :class:`~biovae.objectives.Batch` for an index tensor. Epoch order and sharding over
``torch.distributed`` ranks are decided by :func:`epoch_batches`, so an on-disk (streaming)
source only needs to implement ``batch`` efficiently for sorted index blocks.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol

import numpy as np
import scipy.sparse as sp
import torch
from torch import Tensor

from biovae.objectives import Batch
from biovae.record_noise import RecordNoise


class BatchSource(Protocol):
    def __len__(self) -> int: ...

    def batch(self, idx: Tensor) -> Batch: ...


class InMemorySource:
    """Data held in memory, sliced by index (no per-record Python).

    ``x`` is a dense array/tensor or a scipy sparse matrix. A sparse matrix stays CSR, and only
    each sliced batch is densified, unless more than half its entries are stored: CSR then takes
    more memory than the dense array (8 bytes per stored value against 4 per entry), and
    slicing it is slower, so it is held dense. ``c`` are encoded covariates (n, d), ``w``
    per-record weights (n,), ``y`` label codes (n,) of a semi-supervised model, ``g`` level
    indicators (n, L) for the MMD penalty. A :meth:`subset` shares ``x`` (its ``records`` map
    its positions to rows of ``x``), so a train/validation split does not copy the data.
    """

    def __init__(
        self,
        x,
        c: Tensor | None = None,
        w: Tensor | None = None,
        dtype: torch.dtype = torch.float32,
        y: Tensor | None = None,
        g: Tensor | None = None,
        records: Tensor | None = None,
    ) -> None:
        self.dtype = dtype
        self.records = records
        if isinstance(x, InMemorySource):  # a view of another source's rows
            self.x, self.x_sparse = x.x, x.x_sparse
        elif sp.issparse(x) and x.nnz * 2 <= np.prod(x.shape):
            self.x_sparse: sp.csr_matrix | None = sp.csr_matrix(x)
            self.x: Tensor | None = None
        else:
            x = x.toarray() if sp.issparse(x) else x
            self.x_sparse = None
            self.x = torch.as_tensor(np.asarray(x) if not torch.is_tensor(x) else x).to(dtype)
        self.c = c
        self.w = w
        self.y = y
        self.g = g

    def __len__(self) -> int:
        if self.records is not None:
            return len(self.records)
        return self.x.shape[0] if self.x is not None else self.x_sparse.shape[0]

    def batch(self, idx: Tensor) -> Batch:
        rows = idx if self.records is None else self.records[idx]
        if self.x is not None:
            x = self.x[rows]
        else:
            x = torch.from_numpy(self.x_sparse[rows.numpy()].toarray()).to(self.dtype)
        c = self.c[idx] if self.c is not None else None
        w = self.w[idx] if self.w is not None else None
        return Batch(x, c, w, _take(self.y, idx), _take(self.g, idx))

    def subset(self, idx: Tensor) -> InMemorySource:
        """A source over the records ``idx`` (for train/validation splits), sharing ``x``."""
        return InMemorySource(
            self,
            _take(self.c, idx),
            _take(self.w, idx),
            self.dtype,
            _take(self.y, idx),
            _take(self.g, idx),
            records=idx if self.records is None else self.records[idx],
        )


class StreamSource:
    """Records read from a row store on disk (``rows(idx)`` → dense array or CSR block, e.g. a
    :class:`~biovae.data.ondisk.RowStore`), one batch at a time.

    ``records`` maps this source's positions to store rows (a train/validation split is a
    subset, never a copy); ``c``, ``w``, ``y``, ``g`` are per-position, as in
    :class:`InMemorySource`. A batch holds the same values as the in-memory source would give,
    so training on either is the same computation. The loop reads streaming batches ahead on a
    background thread (:func:`prefetched`).
    """

    streaming = True

    def __init__(
        self,
        store,
        c: Tensor | None = None,
        w: Tensor | None = None,
        dtype: torch.dtype = torch.float32,
        y: Tensor | None = None,
        g: Tensor | None = None,
        records: np.ndarray | None = None,
    ) -> None:
        self.store, self.dtype = store, dtype
        self.c, self.w, self.y, self.g = c, w, y, g
        self.records = np.arange(len(store)) if records is None else records

    def __len__(self) -> int:
        return len(self.records)

    def batch(self, idx: Tensor) -> Batch:
        block = self.store.rows(self.records[idx.numpy()])
        dense = block.toarray() if sp.issparse(block) else np.asarray(block)
        x = torch.from_numpy(dense).to(self.dtype)
        return Batch(
            x, _take(self.c, idx), _take(self.w, idx), _take(self.y, idx), _take(self.g, idx)
        )

    def subset(self, idx: Tensor) -> StreamSource:
        """A source over the positions ``idx`` (for train/validation splits)."""
        take = [_take(t, idx) for t in (self.c, self.w)]
        return StreamSource(
            self.store,
            *take,
            self.dtype,
            _take(self.y, idx),
            _take(self.g, idx),
            records=self.records[idx.numpy()],
        )


def make_source(x, c=None, w=None, dtype=torch.float32, y=None, g=None) -> BatchSource:
    """:class:`StreamSource` for a matrix left on disk (anything with ``rows`` and ``blocks``),
    :class:`InMemorySource` for arrays and sparse matrices."""
    if hasattr(x, "rows") and hasattr(x, "blocks"):
        return StreamSource(x, c, w, dtype, y, g)
    return InMemorySource(x, c, w, dtype, y, g)


def prefetched(source: BatchSource, index_batches: Iterator[Tensor]) -> Iterator[tuple]:
    """``(idx, source.batch(idx))`` for each index batch; a streaming source's next batch is
    read on a background thread while the caller works on the current one (file reads release
    the GIL), in the same order, so results do not change."""
    if not getattr(source, "streaming", False):
        for idx in index_batches:
            yield idx, source.batch(idx)
        return
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="biovae-read") as pool:
        pending = None
        for idx in index_batches:
            ahead = (idx, pool.submit(source.batch, idx))
            if pending is not None:
                yield pending[0], pending[1].result()
            pending = ahead
        if pending is not None:
            yield pending[0], pending[1].result()


class BatchPasses:
    """The batches of ``source`` in record order, read anew on every pass: a consumer that
    goes over the data several times (the diagnostics) holds one batch at a time, never the
    whole data set densified as a list of batches would (nor a streamed file read whole).
    With ``keys`` (:func:`biovae.record_noise.record_keys` of the records' ids) each batch
    carries Monte-Carlo noise keyed to its records, each pass from the start of their streams."""

    def __init__(self, source: BatchSource, batch_size: int, keys: np.ndarray | None = None):
        self.source, self.batch_size, self.keys = source, batch_size, keys

    def keyed(self, keys: np.ndarray) -> BatchPasses:
        """The same passes with noise keyed by ``keys`` (one per record)."""
        return BatchPasses(self.source, self.batch_size, keys)

    def __iter__(self) -> Iterator[Batch]:
        index_batches = epoch_batches(len(self.source), self.batch_size, None)
        for idx, batch in prefetched(self.source, index_batches):
            if self.keys is not None:
                batch = dataclasses.replace(batch, noise=RecordNoise(self.keys[idx.numpy()]))
            yield batch


def keyed_batches(source: BatchSource, keys: np.ndarray, batch_size: int) -> Iterator[Batch]:
    """One pass over ``source`` in record order, each batch with the Monte-Carlo noise keyed
    to its records (``keys``: :func:`biovae.record_noise.record_keys` of their ids)."""
    return iter(BatchPasses(source, batch_size, keys))


def _take(t: Tensor | None, idx: Tensor) -> Tensor | None:
    return t[idx] if t is not None else None


def epoch_batches(
    n: int,
    batch_size: int,
    generator: torch.Generator | None,
    rank: int = 0,
    world_size: int = 1,
) -> Iterator[Tensor]:
    """Index tensors of one epoch: shuffled when a generator is given, sharded across ranks.

    Every rank draws the same permutation from an identically seeded generator and keeps every
    ``world_size``-th record starting at ``rank`` (padding by wrap-around so ranks see equal
    numbers of batches, as DistributedSampler does; with fewer records than ranks the order
    wraps around more than once, or a rank left without a batch would wait for ever in the
    others' collectives).
    """
    order = torch.randperm(n, generator=generator) if generator is not None else torch.arange(n)
    if world_size > 1:
        pad = -(-n // world_size) * world_size - n
        order = torch.cat([order, order.repeat(-(-pad // max(n, 1)))[:pad]])[rank::world_size]
    for start in range(0, len(order), batch_size):
        yield order[start : start + batch_size]


def unpadded(n: int, first: int, count: int, rank: int = 0, world_size: int = 1) -> Tensor:
    """Which of the ``count`` entries from position ``first`` of this rank's share of an epoch
    (:func:`epoch_batches` of ``n`` records) are records of their own, not the padding that
    repeats records so that every rank gets as many: position j of rank r's share is entry
    r + j·world_size of the padded order, and the padding is its entries from n on."""
    return torch.arange(first, first + count) * world_size + rank < n
