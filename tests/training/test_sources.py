"""InMemorySource: sparse input stays CSR unless the dense array is smaller; batches agree.
BatchPasses: every pass reads the batches anew, in record order."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch

from biovae import VAE
from biovae.training import BatchPasses, InMemorySource


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


def test_batch_passes_read_every_pass_anew_and_hold_no_batch():
    x = _counts(0.2)
    passes = BatchPasses(InMemorySource(x), 16)
    first, second = list(passes), list(passes)
    assert [len(b) for b in first] == [16, 16, 8]
    assert np.array_equal(torch.cat([b.x for b in first]).numpy(), x.toarray())
    assert all(torch.equal(a.x, b.x) and a.x is not b.x for a, b in zip(first, second))
    # the estimator's batches (the diagnostics go over them many times) are such passes, not a
    # list holding the whole data set densified (or a streamed file read whole)
    est = VAE("poisson", n_latent=2, hidden=(8,), epochs=1, seed=0).fit(x)
    batches = est.batches(x)
    a, b = next(iter(batches)), next(iter(batches))
    assert torch.equal(a.x, b.x) and a.x is not b.x
