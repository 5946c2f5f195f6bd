"""Content fingerprints of data sets."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
import scipy.sparse as sp

from biovae.data import Dataset, fingerprint


def make(x, ids=("a", "b"), features=("f1", "f2", "f3"), alphabet=None) -> Dataset:
    return Dataset(x=x, ids=list(ids), features=list(features), obs={}, alphabet=alphabet)


X = np.array([[0.0, 1.5, 0.0], [2.0, 0.0, 3.0]], dtype=np.float32)


def test_format_and_stability():
    fp = fingerprint(make(X))
    assert fp.startswith("sha256:") and len(fp) == len("sha256:") + 64
    assert fp == fingerprint(make(X.copy()))


@pytest.fixture(params=[1 << 22, 2], ids=["whole", "in pieces"])
def piece(request, monkeypatch):
    """Hash updates of every size, down to two elements, feed the same bytes."""
    import importlib

    monkeypatch.setattr(importlib.import_module("biovae.data.fingerprint"), "_PIECE", request.param)


def test_dense_matches_independent_computation(piece):
    h = hashlib.sha256()
    h.update(f"dense|{X.shape}|{X.dtype.str}|".encode())
    h.update(X.tobytes())
    h.update(b"ids|2|a\x00b")
    h.update(b"features|3|f1\x00f2\x00f3")
    assert fingerprint(make(X)) == f"sha256:{h.hexdigest()}"


@pytest.mark.parametrize(
    "change",
    [
        {"x": X + np.float32(1e-3)},
        {"ids": ("a", "c")},
        {"features": ("f1", "f2", "g3")},
    ],
)
def test_sensitive_to_values_ids_and_features(change):
    args = {"x": X, "ids": ("a", "b"), "features": ("f1", "f2", "f3"), **change}
    assert fingerprint(make(**args)) != fingerprint(make(X))


def test_sparse_matches_independent_computation(piece):
    a = sp.csr_matrix(X)
    h = hashlib.sha256()
    h.update(f"csr|{a.shape}|".encode())
    for tag, arr in (
        ("data", a.data),
        ("indices", a.indices.astype(np.int64)),
        ("indptr", a.indptr.astype(np.int64)),
    ):
        h.update(f"{tag}|{arr.shape}|{arr.dtype.str}|".encode())
        h.update(arr.tobytes())
    h.update(b"ids|2|a\x00b")
    h.update(b"features|3|f1\x00f2\x00f3")
    assert fingerprint(make(a)) == f"sha256:{h.hexdigest()}"


def test_sparse_is_not_densified_and_index_dtype_does_not_matter(monkeypatch):
    a = sp.csr_matrix(X)
    b = sp.csr_matrix((a.data, a.indices.astype(np.int64), a.indptr.astype(np.int64)), a.shape)
    monkeypatch.setattr(sp.csr_matrix, "toarray", lambda *_: pytest.fail("densified"))
    monkeypatch.setattr(sp.csr_matrix, "todense", lambda *_: pytest.fail("densified"))
    assert fingerprint(make(a)) == fingerprint(make(b))


def test_sparse_and_dense_differ_and_sparse_tracks_values():
    a = sp.csr_matrix(X)
    assert fingerprint(make(a)) != fingerprint(make(X))
    c = a.copy()
    c.data[0] = 9.0
    assert fingerprint(make(c)) != fingerprint(make(a))


def test_alphabet_counts_for_sequences():
    codes = np.array([[0, 1, 2], [2, 1, 0]])
    assert fingerprint(make(codes, alphabet="ACGT-")) != fingerprint(make(codes, alphabet="ACGU-"))
