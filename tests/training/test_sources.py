"""InMemorySource: sparse input stays CSR unless the dense array is smaller; batches agree."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch

from biovae.training import InMemorySource


def _counts(density: float) -> sp.csr_matrix:
    rng = np.random.default_rng(0)
    x = rng.poisson(5.0, size=(40, 30)).astype(np.float32) + 1
    x[rng.random(x.shape) > density] = 0
    return sp.csr_matrix(x)


def test_sparse_input_stays_csr_and_dense_enough_input_is_held_dense():
    sparse, dense = _counts(0.2), _counts(0.9)
    assert InMemorySource(sparse).x_sparse is not None  # 20 % stored: CSR is the smaller
    assert InMemorySource(dense).x is not None  # 90 % stored: the dense array is the smaller
    idx = torch.tensor([5, 0, 17, 39])
    for x in (sparse, dense):
        batch = InMemorySource(x).batch(idx).x
        assert batch.dtype == torch.float32
        assert np.array_equal(batch.numpy(), x[idx.numpy()].toarray())
        assert np.array_equal(InMemorySource(x).subset(idx).batch(torch.arange(4)).x, batch)
