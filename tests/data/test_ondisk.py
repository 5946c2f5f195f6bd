"""Matrices left on disk (``stream=True``): every read equals the matrix read whole, in any
order and block size, and whole-matrix checks name the same record as in memory."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from biovae.data import ondisk
from biovae.data.fingerprint import fingerprint
from biovae.data.readers import read_dataset
from biovae.errors import DataError

anndata = pytest.importorskip("anndata")
CELLBENCH = "cellbench_100x200.h5ad"


@pytest.fixture(autouse=True)
def small_blocks(monkeypatch):
    """Blocks of 7 rows, so every whole-matrix pass crosses block borders."""
    monkeypatch.setattr(ondisk, "BLOCK_ROWS", 7)


def _dense(m) -> np.ndarray:
    return m.toarray() if sp.issparse(m) else np.asarray(m)


@pytest.fixture(params=["csr", "gzip", "dense", "layer", "npy"])
def pair(request, fixtures, tmp_path):
    """(in memory, streamed) of the same 100 × 200 CellBench counts in several layouts."""
    whole = read_dataset(fixtures / CELLBENCH)
    if request.param == "csr":
        return whole, read_dataset(fixtures / CELLBENCH, stream=True)
    if request.param == "npy":
        np.save(tmp_path / "x.npy", whole.x.toarray())
        return read_dataset(tmp_path / "x.npy"), read_dataset(tmp_path / "x.npy", stream=True)
    adata = anndata.read_h5ad(fixtures / CELLBENCH)
    if request.param == "gzip":  # compressed: read through h5py, not the file's bytes
        adata.write_h5ad(tmp_path / "gzip.h5ad", compression="gzip")
        whole = read_dataset(tmp_path / "gzip.h5ad")
        streamed = read_dataset(tmp_path / "gzip.h5ad", stream=True)
        assert not isinstance(streamed.x._reader.data, ondisk._Direct)
        return whole, streamed
    if request.param == "dense":
        adata.X = adata.X.toarray()
        path, layer = tmp_path / "dense.h5ad", None
    else:
        adata.layers["counts"] = adata.X.copy()
        adata.X = adata.X.toarray() * 0.5
        path, layer = tmp_path / "layer.h5ad", "counts"
    adata.write_h5ad(path)
    return read_dataset(path, layer=layer), read_dataset(path, layer=layer, stream=True)


def test_rows_in_any_order_equal_the_matrix_in_memory(pair):
    whole, streamed = pair
    assert isinstance(streamed.x, ondisk.RowStore) and streamed.x.shape == whole.x.shape
    for idx in ([5, 3, 3, 99, 0], [10, 11, 12, 40, 41], list(range(100)), [7]):
        idx = np.array(idx)
        np.testing.assert_array_equal(_dense(streamed.x.rows(idx)), _dense(whole.x[idx]))
    assert streamed.ids.tolist() == whole.ids.tolist() and streamed.features == whole.features


def test_whole_matrix_passes_match_memory(pair):
    whole, streamed = pair
    starts = [start for start, _ in streamed.x.blocks()]
    assert starts == list(range(0, 100, 7))
    np.testing.assert_array_equal(np.asarray(streamed.x), _dense(whole.x))
    np.testing.assert_allclose(
        streamed.x.sum(axis=1).ravel(), np.asarray(whole.x.sum(axis=1)).ravel()
    )
    assert fingerprint(streamed) == fingerprint(whole)


def test_uncompressed_csr_is_read_from_the_file_bytes_in_any_layout(fixtures, tmp_path):
    """Chunked (anndata's default) and contiguous datasets, read straight from the file, give
    h5py's values for every range, chunk borders included."""
    h5py = pytest.importorskip("h5py")
    csr = sp.csr_matrix(read_dataset(fixtures / CELLBENCH).x)
    with h5py.File(tmp_path / "raw.h5", "w") as f:
        for name, chunks in (("chunked", (97,)), ("contiguous", None)):
            g = f.create_group(name)
            g.attrs["shape"] = csr.shape
            g.create_dataset("data", data=csr.data, chunks=chunks)
            g.create_dataset("indices", data=csr.indices, chunks=chunks)
            g.create_dataset("indptr", data=csr.indptr)
    with h5py.File(tmp_path / "raw.h5", "r") as f:
        for name in ("chunked", "contiguous"):
            reader = ondisk._H5CsrReader(f[name])
            assert isinstance(reader.data, ondisk._Direct)
            for rows in (np.arange(100), np.array([0, 13, 14, 15, 77, 99])):
                assert (reader.read(rows) != csr[rows]).nnz == 0
            for lo, hi in ((0, 97), (96, 98), (5, 400), (len(csr.data) - 3, len(csr.data))):
                np.testing.assert_array_equal(reader.data[lo:hi], csr.data[lo:hi])


def test_first_counts_rows_from_the_top(pair):
    whole, streamed = pair
    column = _dense(whole.x)[:, 3]
    threshold = column[:7].max()  # no hit in the first block
    expected = int(np.flatnonzero(column > threshold)[0])
    assert expected >= 7

    def find(block):
        hits = np.flatnonzero(_dense(block)[:, 3] > threshold)
        return (int(hits[0]), 3) if hits.size else None

    assert streamed.x.first(find) == (expected, 3)


def test_non_finite_value_on_disk_names_its_record(tmp_path):
    x = np.ones((30, 4), np.float32)
    x[17, 2] = np.nan
    np.save(tmp_path / "x.npy", x)
    with pytest.raises(DataError, match=r"record '17'.*feature '2'|'17'.*'2'"):
        read_dataset(tmp_path / "x.npy", stream=True)


def test_csc_matrices_and_other_formats_are_refused(fixtures, tmp_path):
    adata = anndata.read_h5ad(fixtures / CELLBENCH)
    adata.X = sp.csc_matrix(adata.X)
    adata.write_h5ad(tmp_path / "csc.h5ad")
    with pytest.raises(DataError, match="stored as csc_matrix; streaming reads rows"):
        read_dataset(tmp_path / "csc.h5ad", stream=True)
    adata.layers["counts"] = adata.X  # the fix names the layer, not X
    adata.X = sp.csr_matrix(adata.X)
    adata.write_h5ad(tmp_path / "csc_layer.h5ad")
    with pytest.raises(DataError, match=r"adata\.layers\['counts'\] = scipy"):
        read_dataset(tmp_path / "csc_layer.h5ad", layer="counts", stream=True)
    with pytest.raises(DataError, match="option stream does not apply to csv"):
        read_dataset(fixtures / "crc_metadata_60.tsv", fmt="csv", stream=True)
    with pytest.raises(DataError, match="layer"):
        read_dataset(fixtures / CELLBENCH, layer="nope", stream=True)


class _Recorder:
    def __init__(self) -> None:
        self.calls: list[int] = []

    def madvise(self, option: int) -> None:
        self.calls.append(option)


def test_memory_maps_are_advised_of_scattered_and_row_order_reads(pair):
    """Minibatch rows switch read-ahead off (MADV_RANDOM), row-order passes back on, with one
    call per change; readers without a memory map (h5py) are left alone."""
    import mmap

    class Mapped(np.ndarray):
        pass

    advice = ondisk._Advice()
    fake = np.zeros(3).view(Mapped)
    fake._mmap = _Recorder()
    for scattered in (True, True, False, False, True):
        advice.apply(fake, scattered)
    assert fake._mmap.calls == [mmap.MADV_RANDOM, mmap.MADV_NORMAL, mmap.MADV_RANDOM]
    _, streamed = pair
    reader = streamed.x._reader
    maps = [reader] if isinstance(reader, ondisk.NpyReader) else []
    maps += [p for p in (getattr(reader, "data", None),) if isinstance(p, ondisk._Direct)]
    streamed.x.rows(np.array([3, 1]))
    assert all(m._advice.scattered is True for m in maps)
    list(streamed.x.blocks())
    assert all(m._advice.scattered is False for m in maps)


@pytest.mark.parametrize("damage", ["column past the last gene", "indptr past the values"])
def test_a_malformed_csr_h5ad_is_a_one_line_error_in_memory_and_streamed(
    fixtures, tmp_path, damage
):
    import shutil

    import h5py

    path = tmp_path / "bad.h5ad"
    shutil.copy(fixtures / "cellbench_100x200.h5ad", path)
    with h5py.File(path, "r+") as fh:
        if damage == "column past the last gene":
            indices = fh["X/indices"][:]
            indices[3] = 200 + 5
            del fh["X/indices"]
            fh["X/indices"] = indices
        else:
            indptr = fh["X/indptr"][:]
            indptr[-1] += 7
            del fh["X/indptr"]
            fh["X/indptr"] = indptr
    for stream in (False, True):
        with pytest.raises(DataError, match="malformed"):
            ds = read_dataset(path, stream=stream)
            if stream:  # the column check runs as rows are read
                ds.x.rows(np.arange(len(ds)))


def test_a_column_past_the_last_gene_on_disk_names_its_file_and_row(fixtures, tmp_path):
    """Streamed, the column check runs as rows are read (the reader's checks read every row,
    on every rank under torchrun): its one line names the file and the row."""
    import shutil

    import h5py

    path = tmp_path / "bad.h5ad"
    shutil.copy(fixtures / CELLBENCH, path)
    with h5py.File(path, "r+") as fh:
        at = int(fh["X/indptr"][57])  # the first value of row 58
        fh["X/indices"][at] = 205
    with pytest.raises(DataError) as err:
        read_dataset(path, stream=True)  # its finiteness check reads every row
    assert str(err.value).startswith(f"{path}: the sparse matrix /X is malformed: row 58 ")
    assert "column index 205, outside 0 .. 199" in str(err.value)


def test_no_rows_is_an_empty_matrix_as_in_memory(pair):
    """An empty selection (a mask that keeps nothing) reads nothing: the readers joined no
    runs and raised numpy's "need at least one array to concatenate"."""
    whole, streamed = pair
    for key in (np.array([], dtype=np.int64), slice(3, 3)):
        got = streamed.x[key]
        assert got.shape == (0, 200) and sp.issparse(got) == streamed.x.sparse
    none = np.zeros(100, dtype=bool)
    assert streamed.subset(none).x.shape == whole.subset(none).x.shape == (0, 200)


def test_a_fortran_ordered_npy_is_refused_for_streaming_and_read_whole(tmp_path):
    """Each record of a column-major array is spread over the file (as a CSC matrix's is):
    refused for streaming with the fix, read whole as before."""
    x = np.arange(60, dtype=np.float32).reshape(12, 5)
    np.save(tmp_path / "f.npy", np.asfortranarray(x))
    with pytest.raises(DataError, match=r"Fortran order.*ascontiguousarray.*--no-stream"):
        read_dataset(tmp_path / "f.npy", stream=True)
    np.testing.assert_array_equal(read_dataset(tmp_path / "f.npy").x, x)
    np.save(tmp_path / "column.npy", np.asfortranarray(x[:, :1]))  # C order as well: kept
    assert isinstance(read_dataset(tmp_path / "column.npy", stream=True).x, ondisk.RowStore)


def test_a_subset_stays_on_disk_and_holds_those_rows(pair, monkeypatch):
    """A subset of streamed records (the train / held-out split of ``biovae sweep --stream``)
    read its rows into memory at once; it is a store over the same file, read by block."""
    whole, streamed = pair
    reads: list[int] = []
    reader = streamed.x._reader
    read = reader.read
    monkeypatch.setattr(reader, "read", lambda rows: reads.append(len(rows)) or read(rows))
    idx = np.array([97, 3, 40, 0, 41, 42, 12, 99, 5, -2])
    part = streamed.subset(idx)
    assert isinstance(part.x, ondisk.RowStore) and part.x.shape == (10, 200) and not reads
    ref = _dense(whole.x)[idx]  # numpy's indexing of the matrix in memory
    np.testing.assert_array_equal(np.asarray(part.x), ref)  # blocks of 7 rows
    assert max(reads) <= 7
    np.testing.assert_array_equal(_dense(part.x.rows(np.array([9, 2, 2, 1]))), ref[[9, 2, 2, 1]])
    inner = np.array([6, 0, 5, 9])  # a subset of a subset: rows of the file
    np.testing.assert_array_equal(np.asarray(part.subset(inner).x), ref[inner])
    repeats = np.array([4, 4, 1, 4])
    np.testing.assert_array_equal(np.asarray(part.x.subset(repeats)), ref[repeats])
    assert part.ids.tolist() == whole.ids[idx].tolist()
    assert fingerprint(part) == fingerprint(whole.subset(idx))
    with pytest.raises(IndexError, match="out of range for 100 records"):
        streamed.x.subset(np.array([3, 100]))
