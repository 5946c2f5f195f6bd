"""Where batches come from.

The training loop only sees the :class:`BatchSource` protocol: a length, and ``batch(idx)``
returning a :class:`~biovae.objectives.Batch` for an index tensor. Epoch order and sharding over
``torch.distributed`` ranks are decided by :func:`epoch_batches`, so an on-disk (streaming)
source only needs to implement ``batch`` efficiently for sorted index blocks.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

import numpy as np
import scipy.sparse as sp
import torch
from torch import Tensor

from biovae.objectives import Batch


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
    indicators (n, L) for the MMD penalty.
    """

    def __init__(
        self,
        x,
        c: Tensor | None = None,
        w: Tensor | None = None,
        dtype: torch.dtype = torch.float32,
        y: Tensor | None = None,
        g: Tensor | None = None,
    ) -> None:
        self.dtype = dtype
        if sp.issparse(x) and x.nnz * 2 <= np.prod(x.shape):
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
        return self.x.shape[0] if self.x is not None else self.x_sparse.shape[0]

    def batch(self, idx: Tensor) -> Batch:
        if self.x is not None:
            x = self.x[idx]
        else:
            x = torch.from_numpy(self.x_sparse[idx.numpy()].toarray()).to(self.dtype)
        c = self.c[idx] if self.c is not None else None
        w = self.w[idx] if self.w is not None else None
        return Batch(x, c, w, _take(self.y, idx), _take(self.g, idx))

    def subset(self, idx: Tensor) -> InMemorySource:
        """A source over the records ``idx`` (for train/validation splits)."""
        x = self.x[idx] if self.x is not None else self.x_sparse[idx.numpy()]
        return InMemorySource(
            x,
            self.c[idx] if self.c is not None else None,
            self.w[idx] if self.w is not None else None,
            self.dtype,
            _take(self.y, idx),
            _take(self.g, idx),
        )


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
    numbers of batches, as DistributedSampler does).
    """
    order = torch.randperm(n, generator=generator) if generator is not None else torch.arange(n)
    if world_size > 1:
        per_rank = -(-n // world_size)
        order = torch.cat([order, order[: per_rank * world_size - n]])[rank::world_size]
    for start in range(0, len(order), batch_size):
        yield order[start : start + batch_size]
