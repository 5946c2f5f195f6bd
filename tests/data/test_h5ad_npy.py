"""AnnData (.h5ad) and .npy readers."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from biovae.data import read_dataset
from biovae.errors import DataError

h5py = pytest.importorskip("h5py", reason="h5py (extra 'singlecell') is not installed")
anndata = pytest.importorskip("anndata", reason="anndata (extra 'singlecell') is not installed")


def raw_h5ad(path):
    """X (CSR), obs names, var names and batch labels read with plain h5py."""
    with h5py.File(path, "r") as f:
        g = f["X"]
        x = sp.csr_matrix((g["data"][:], g["indices"][:], g["indptr"][:]), g.attrs["shape"])
        obs_index = f["obs"].attrs["_index"]
        var_index = f["var"].attrs["_index"]
        names = [s.decode() for s in f["obs"][obs_index][:]]
        genes = [s.decode() for s in f["var"][var_index][:]]
        batch = f["obs"]["batch"]
        cats = [s.decode() for s in batch["categories"][:]]
        labels = [cats[c] for c in batch["codes"][:]]
    return x, names, genes, labels


def test_cellbench_subset(fixtures_dir):
    path = fixtures_dir / "cellbench_100x200.h5ad"
    ds = read_dataset(path)
    x, names, genes, batch = raw_h5ad(path)
    assert ds.x.shape == (100, 200)
    assert sp.isspmatrix_csr(ds.x) and ds.x.dtype == np.float32
    assert ds.x.nnz == x.nnz == 19871
    assert (ds.x != x.astype(np.float32)).nnz == 0
    assert list(ds.ids) == names and ds.ids[:2].tolist() == ["A1", "A16"]
    assert ds.features == tuple(genes) and ds.features[0] == "ENSG00000005022"
    assert ds.obs["batch"].tolist() == batch
    assert (ds.obs["batch"] == "celseq2").sum() == 50 and (ds.obs["batch"] == "dropseq").sum() == 50
    assert ds.obs["number_of_genes"].dtype == np.float64
    assert ds.obs["outliers"][0] == "False"
    assert np.isnan(ds.obs["non_ERCC_percent"][ds.obs["batch"] == "dropseq"]).all()
    assert ds.x.sum() == 901145


def test_layer_and_dense_and_id_column(tmp_path):
    counts = np.array([[1, 0, 2], [0, 3, 0]], dtype=np.int32)
    adata = anndata.AnnData(
        X=np.log1p(counts).astype(np.float32),
        obs={"cell": ["c1", "c2"], "group": ["a", "b"]},
        layers={"counts": sp.csr_matrix(counts)},
    )
    adata.obs_names = ["o1", "o2"]
    adata.var_names = ["g1", "g2", "g3"]
    path = tmp_path / "t.h5ad"
    adata.write_h5ad(path)
    dense = read_dataset(path)
    assert isinstance(dense.x, np.ndarray) and dense.x.dtype == np.float32
    layer = read_dataset(path, layer="counts", id_column="cell")
    assert sp.isspmatrix_csr(layer.x)
    np.testing.assert_array_equal(layer.x.toarray(), counts)
    assert list(layer.ids) == ["c1", "c2"] and "cell" not in layer.obs
    with pytest.raises(DataError, match=r"t\.h5ad: layer 'raw' not found; available layers: 'co"):
        read_dataset(path, layer="raw")
    with pytest.raises(DataError, match=r"t\.h5ad: obs column 'batch' not found.*'cell', 'group'"):
        read_dataset(path, metadata_columns=["batch"])


@pytest.mark.parametrize("missing", [None, np.nan, ""])
def test_missing_id_in_id_column(tmp_path, missing):
    adata = anndata.AnnData(
        X=np.ones((3, 2), dtype=np.float32), obs={"cell": ["c1", missing, "c3"]}
    )
    adata.obs_names = ["o1", "o2", "o3"]
    path = tmp_path / "t.h5ad"
    adata.write_h5ad(path)
    pattern = r"t\.h5ad: record 2 \(obs name 'o2'\), obs column 'cell': empty record id"
    with pytest.raises(DataError, match=pattern) as info:
        read_dataset(path, id_column="cell")
    assert "\n" not in str(info.value)
    assert list(read_dataset(path).ids) == ["o1", "o2", "o3"]


def test_nan_in_h5ad_counts(tmp_path):
    x = sp.csr_matrix(np.array([[1.0, 0.0], [0.0, np.nan]], dtype=np.float32))
    adata = anndata.AnnData(X=x)
    adata.obs_names = ["a", "b"]
    adata.var_names = ["g1", "g2"]
    path = tmp_path / "n.h5ad"
    adata.write_h5ad(path)
    with pytest.raises(DataError, match=r"n\.h5ad: record 'b', column 'g2': missing value"):
        read_dataset(path)


def test_unreadable_h5ad(write):
    path = write("broken.h5ad", "this is not HDF5")
    with pytest.raises(DataError, match=r"broken\.h5ad: not a readable \.h5ad file") as info:
        read_dataset(path)
    assert "\n" not in str(info.value)


def test_npy(tmp_path):
    path = tmp_path / "a.npy"
    np.save(path, np.arange(6, dtype=np.int64).reshape(3, 2))
    ds = read_dataset(path)
    assert ds.x.dtype == np.float32 and ds.x.shape == (3, 2)
    assert list(ds.ids) == ["0", "1", "2"] and ds.features == ("0", "1")
    np.testing.assert_array_equal(ds.x[2], [4, 5])


@pytest.mark.parametrize(
    ("array", "pattern"),
    [
        (np.zeros(3), r"expected a 2-D array .* shape \(3,\)"),
        (np.array([["a", "b"]]), r"expected a numeric array"),
        (np.array([[1.0, np.inf]]), r"record '0', column '1': non-finite"),
        (np.array([[1.0], [np.nan]]), r"record '1', column '0': missing value"),
        (np.array([[1, None]], dtype=object), r"not a readable numeric \.npy array"),
    ],
)
def test_bad_npy(tmp_path, array, pattern):
    path = tmp_path / "bad.npy"
    np.save(path, array, allow_pickle=True)
    with pytest.raises(DataError, match=r"bad\.npy: " + pattern):
        read_dataset(path)


@pytest.mark.parametrize("stream", [False, True])
def test_counts_in_raw_x_are_named_with_the_fix(tmp_path, stream):
    """scanpy keeps counts in raw.X; asking for them (--layer raw) said only that no layer
    exists, and a file without X did not list its layers."""
    counts = sp.csr_matrix(np.array([[1, 0, 2], [0, 3, 0]], dtype=np.float32))
    adata = anndata.AnnData(np.log1p(counts.toarray()))
    adata.obs_names, adata.var_names = ["c1", "c2"], ["g1", "g2", "g3"]
    adata.raw = anndata.AnnData(counts, var=adata.var.copy())
    path = tmp_path / "raw.h5ad"
    adata.write_h5ad(path)
    fix = r"raw\.X \(adata\.raw, 3 genes\) is not read: .*adata\.layers\['counts'\] = "
    with pytest.raises(DataError, match=rf"raw\.h5ad: .*raw'.*; the file's {fix}"):
        read_dataset(path, layer="raw", stream=stream)
    bare = anndata.AnnData(None, obs=adata.obs, var=adata.var, layers={"counts": counts})
    bare.write_h5ad(tmp_path / "no_x.h5ad")
    with pytest.raises(DataError, match=r"no_x\.h5ad: .*X.*available layers: 'counts'"):
        read_dataset(tmp_path / "no_x.h5ad", stream=stream)


@pytest.mark.parametrize("stream", [False, True])
def test_repeated_var_names_are_made_unique_and_said_once(tmp_path, stream):
    """anndata's own warning (call .var_names_make_unique) told the user to do what biovae had
    done; only biovae's, naming the file and the new names, is left."""
    import pandas as pd

    path = tmp_path / "dup.h5ad"
    with pytest.warns(UserWarning):  # anndata's, when the file is written
        adata = anndata.AnnData(
            sp.csr_matrix(np.arange(6, dtype=np.float32).reshape(2, 3)),
            obs=pd.DataFrame(index=["c1", "c2"]),
            var=pd.DataFrame(index=["A", "A", "B"]),
        )
    adata.write_h5ad(path)
    with pytest.warns(UserWarning) as caught:
        ds = read_dataset(path, stream=stream)
    assert [str(w.message) for w in caught] == [
        f"{path}: feature names repeat (e.g. 'A'); later copies renamed A-1, … (as anndata's "
        "var_names_make_unique)"
    ]
    assert ds.features == ("A", "A-1", "B")


def test_h5ad_keeps_the_levels_a_categorical_obs_column_declares_unused_ones_too(tmp_path):
    """``biovae fit --unlabeled-category Unassigned`` on a label column whose categories name
    "Unassigned" though no cell holds it was refused as a typo: the reader lost the levels."""
    import pandas as pd

    from biovae.data.h5ad import read_h5ad

    labels = pd.Categorical(["B", "T", "B"], categories=["B", "T", "Unassigned"])
    obs = pd.DataFrame({"lab": labels}, index=["c1", "c2", "c3"])
    adata = anndata.AnnData(np.ones((3, 2), np.float32), obs=obs)
    adata.obs["depth"] = [1.0, 2.0, 3.0]
    adata.write_h5ad(tmp_path / "a.h5ad")
    ds = read_h5ad(tmp_path / "a.h5ad")
    assert ds.categories == {"lab": ("B", "T", "Unassigned")}  # numbers declare none
    assert ds.obs["lab"].tolist() == ["B", "T", "B"]
    assert ds.subset(np.array([0, 2])).categories == ds.categories
