"""Dataset construction, validation and row selection."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from biovae.data import Dataset
from biovae.errors import DataError


def make(n: int = 4, f: int = 3, **kw) -> Dataset:
    args = {
        "x": np.arange(n * f, dtype=np.float64).reshape(n, f),
        "ids": [f"r{i}" for i in range(n)],
        "features": [f"g{j}" for j in range(f)],
        "obs": {"label": np.array(["a", "b", "a", "c"][:n], dtype=object)},
        "source": "mem.tsv",
    }
    args.update(kw)
    return Dataset(**args)


def test_normalises_types():
    ds = make()
    assert ds.x.dtype == np.float32
    assert ds.ids.dtype == object and ds.ids[2] == "r2"
    assert ds.features == ("g0", "g1", "g2")
    assert len(ds) == ds.n_obs == 4 and ds.n_features == 3
    assert not ds.is_sparse


def test_integer_ids_become_strings():
    ds = make(ids=np.arange(4))
    assert list(ds.ids) == ["0", "1", "2", "3"]


def test_sparse_kept_sparse_as_csr_float32():
    ds = make(x=sp.coo_matrix(np.eye(4, 3)))
    assert sp.isspmatrix_csr(ds.x) and ds.x.dtype == np.float32
    assert ds.x.nnz == 3


def test_duplicate_id_named():
    with pytest.raises(DataError, match=r"mem\.tsv: duplicate record id 'r1'"):
        make(ids=["r0", "r1", "r2", "r1"])


def test_length_mismatches():
    with pytest.raises(DataError, match="3 ids for 4 records"):
        make(ids=["a", "b", "c"])
    with pytest.raises(DataError, match="2 feature names for 3 columns"):
        make(features=["a", "b"])
    with pytest.raises(DataError, match="metadata column 'label' has shape"):
        make(obs={"label": np.array(["a"], dtype=object)})


def test_x_must_be_2d():
    with pytest.raises(DataError, match=r"must be 2-D .* got shape \(4,\)"):
        make(x=np.zeros(4), features=[])


def test_sequence_codes_checked():
    codes = np.array([[0, 1, 4], [3, 2, 1]])
    ds = Dataset(x=codes, ids=["a", "b"], features=["1", "2", "3"], obs={}, alphabet="ACGT-")
    assert ds.x.dtype == np.uint8
    with pytest.raises(DataError, match=r"codes must lie in 0\.\.4"):
        Dataset(x=codes + 1, ids=["a", "b"], features=["1", "2", "3"], obs={}, alphabet="ACGT-")


def test_subset_by_index_and_mask():
    ds = make()
    sub = ds.subset(np.array([3, 1]))
    assert list(sub.ids) == ["r3", "r1"]
    np.testing.assert_array_equal(sub.x, ds.x[[3, 1]])
    assert list(sub.obs["label"]) == ["c", "b"]
    masked = ds.subset(ds.obs["label"] == "a")
    assert list(masked.ids) == ["r0", "r2"]
    assert masked.source == "mem.tsv"


def test_subset_sparse_rows():
    ds = make(x=sp.csr_matrix(np.arange(12, dtype=float).reshape(4, 3)))
    sub = ds.subset(np.array([2]))
    assert sp.isspmatrix_csr(sub.x)
    np.testing.assert_array_equal(sub.x.toarray(), [[6, 7, 8]])


def test_subset_bad_mask():
    with pytest.raises(DataError, match=r"boolean mask has shape \(2,\), expected \(4,\)"):
        make().subset(np.array([True, False]))


def test_obs_column_missing_lists_available():
    ds = make()
    assert list(ds.obs_column("label")) == ["a", "b", "a", "c"]
    with pytest.raises(DataError, match=r"mem\.tsv: no metadata column 'batch'.*'label'"):
        ds.obs_column("batch")
