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


def test_subsets_share_the_data_and_compose_their_records():
    x = sp.random(50, 8, density=0.2, format="csr", random_state=1, dtype=np.float32)
    c = torch.arange(50.0)[:, None]
    src = InMemorySource(x, c)
    first = src.subset(torch.tensor([40, 3, 17, 8, 29]))
    second = first.subset(torch.tensor([4, 1, 1]))
    assert first.x_sparse is src.x_sparse and second.x_sparse is src.x_sparse  # no copy
    assert len(second) == 3
    got = second.batch(torch.tensor([0, 2]))
    want = src.batch(torch.tensor([29, 3]))
    assert torch.equal(got.x, want.x) and torch.equal(got.c, want.c)
