"""The blocked silhouette against the definition written out pair by pair, and its memory."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from biovae.diagnostics import integration as im
from biovae.diagnostics import silhouette as sil

pytest.importorskip("sklearn")


def reference_silhouette(x, codes):
    """Rousseeuw (1987) per record from the full distance matrix: a = mean distance to the
    other members of its cluster, b = smallest mean distance to another cluster,
    s = (b − a) / max(a, b); 0 for a record alone in its cluster or with a = b = 0."""
    d = np.sqrt(((x[:, None, :] - x[None, :, :]) ** 2).sum(-1))
    out = np.zeros(len(x))
    for i in range(len(x)):
        own = codes == codes[i]
        if own.sum() == 1:
            continue
        a = d[i, own].sum() / (own.sum() - 1)
        b = min(d[i, codes == c].mean() for c in np.unique(codes) if c != codes[i])
        out[i] = 0.0 if max(a, b) == 0 else (b - a) / max(a, b)
    return out


def clustered(n=240, seed=0):
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, 4, n)
    x = rng.normal(0, 1.5, (4, 5))[codes] + rng.normal(size=(n, 5))
    x[1] = x[0]  # a duplicated record
    codes[-1] = 9  # a cluster of one record (silhouette 0), codes need not be 0..m-1
    return x, codes


@pytest.mark.parametrize("block_bytes", [None, 8 * 240 * 7, 1])  # whole, 7 rows, 1 row
def test_silhouette_matches_the_definition_in_any_block_size(monkeypatch, block_bytes):
    if block_bytes is not None:
        monkeypatch.setattr(sil, "DISTANCE_BLOCK_BYTES", block_bytes)
    x, codes = clustered()
    expected = reference_silhouette(x, codes)
    assert expected[-1] == 0.0 and 0.1 < expected.mean() < 0.9  # a non-trivial case
    np.testing.assert_allclose(sil.silhouette_samples(x, codes), expected, rtol=0, atol=1e-12)


def test_asws_match_the_scib_formulas_on_the_reference_silhouette():
    x, codes = clustered(seed=1)
    codes[-1] = 0
    batch = np.random.default_rng(2).choice(["p", "q", "r"], len(x))
    labels = np.array([f"t{c}" for c in codes])
    want_label = (reference_silhouette(x, codes).mean() + 1) / 2
    assert im.label_asw(x, labels) == pytest.approx(want_label, rel=0, abs=1e-12)
    per_type = []
    for t in np.unique(labels):
        sel = labels == t
        s = reference_silhouette(x[sel], np.unique(batch[sel], return_inverse=True)[1])
        per_type.append(np.mean(1 - np.abs(s)))
    assert im.batch_asw(x, batch, labels) == pytest.approx(np.mean(per_type), rel=0, abs=1e-12)


def test_silhouette_memory_grows_with_the_records_not_their_square(monkeypatch):
    # 2,000 records: a full distance matrix is 32 MB (scikit-learn's silhouette held up to
    # 1 GiB of it at once); blocks of 1 MiB keep the peak a few MB
    monkeypatch.setattr(sil, "DISTANCE_BLOCK_BYTES", 2**20)
    rng = np.random.default_rng(0)
    x, codes = rng.normal(size=(2000, 10)), rng.integers(0, 3, 2000)
    tracemalloc.start()
    try:
        sil.silhouette_samples(x, codes)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 * 2**20, f"peak {peak / 2**20:.1f} MiB"
