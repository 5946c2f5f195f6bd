"""Malformed inputs that were read without a word (or refused with a misleading message):
complex values, a sparse entry stored twice, timedelta arrays, a JSON BIOM whose ``shape``
disagrees with its ids, and empty or non-UTF-8 structure files. Each is one ``DataError`` line
naming the file; through the CLI, exit status 2 and nothing written."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import scipy.io
import scipy.sparse as sp

from biovae.data import read_dataset
from biovae.errors import DataError
from tests.cli._run import run

# cells x genes, every cell and gene with a count
COUNTS = np.array([[1, 0, 3], [0, 2, 5], [4, 1, 0], [2, 2, 2]], dtype=np.int64)
CELLS = [f"c{i}" for i in range(COUNTS.shape[0])]
GENES = [f"ENSG0{j}" for j in range(COUNTS.shape[1])]


def _h5ad(path, x, layer=False):
    ad = pytest.importorskip("anndata")
    adata = ad.AnnData(COUNTS.astype(np.float32))
    adata.obs_names, adata.var_names = CELLS, GENES
    if layer:
        adata.layers["counts"] = x
    else:
        adata.X = x
    adata.write_h5ad(path)
    return path


def _tenx_h5(path, data=None, indices=None):
    """A Cell Ranger 3 ``.h5`` of COUNTS (genes x cells CSC), its arrays replaced if given."""
    h5py = pytest.importorskip("h5py")
    m = sp.csc_matrix(COUNTS.T)
    with h5py.File(path, "w") as fh:
        g = fh.create_group("matrix")
        g["data"] = m.data if data is None else data
        g["indices"] = m.indices if indices is None else indices
        g["indptr"], g["shape"] = m.indptr, np.array(m.shape)
        g["barcodes"] = np.array([c.encode() for c in CELLS])
        g.create_group("features")["id"] = np.array([f.encode() for f in GENES])
    return path


def _repeated_csr(row: int = 0) -> sp.csr_matrix:
    """COUNTS with the first entry of record ``row`` stored twice: (c0, ENSG00) 1 + 1 by
    default, which scipy would read as a 2."""
    m = sp.csr_matrix(COUNTS.astype(np.float32))
    at = m.indptr[row]
    data = np.insert(m.data, at, m.data[at])
    indices = np.insert(m.indices, at, m.indices[at])
    indptr = m.indptr + (np.arange(len(m.indptr)) > row)
    return sp.csr_matrix((data, indices, indptr), shape=m.shape)


def _repeated_tenx_h5(path, row: int = 0):
    """A well-formed Cell Ranger ``.h5`` (indptr matching its values) whose cell ``row``
    lists its first gene twice: cells x genes CSR arrays = genes x cells CSC."""
    _tenx_h5(path)
    m = _repeated_csr(row)
    with pytest.importorskip("h5py").File(path, "r+") as fh:
        for name in ("data", "indices", "indptr"):
            del fh["matrix"][name]
            fh["matrix"][name] = getattr(m, name)
    return path


def test_the_repeated_csr_helper_stores_an_entry_twice():
    m = _repeated_csr()
    assert m.nnz == sp.csr_matrix(COUNTS).nnz + 1
    assert m.toarray()[0, 0] == 2  # summed: what the reader must not train on


COMPLEX = COUNTS.astype(np.complex64) + 1j


@pytest.mark.parametrize(
    ("make", "options", "where"),
    [
        (lambda p: _h5ad(p / "d.h5ad", sp.csr_matrix(COMPLEX)), {}, "X"),
        (lambda p: _h5ad(p / "d.h5ad", COMPLEX), {}, "X"),
        (lambda p: _h5ad(p / "d.h5ad", COMPLEX, layer=True), {"layer": "counts"}, "layers/counts"),
        (lambda p: _h5ad(p / "d.h5ad", sp.csr_matrix(COMPLEX)), {"stream": True}, "/X/data"),
        (lambda p: _h5ad(p / "d.h5ad", COMPLEX), {"stream": True}, "/X"),
        (lambda p: _tenx_h5(p / "d.h5", data=sp.csc_matrix(COMPLEX.T).data), {}, "/matrix/data"),
        (
            lambda p: _tenx_h5(p / "d.h5", data=sp.csc_matrix(COMPLEX.T).data),
            {"stream": True},
            "/matrix/data",
        ),
    ],
    ids=[
        "h5ad-csr",
        "h5ad-dense",
        "h5ad-layer",
        "h5ad-csr-stream",
        "h5ad-dense-stream",
        "10x-h5",
        "10x-h5-stream",
    ],
)
def test_complex_values_are_refused_not_cast_to_their_real_part(tmp_path, make, options, where):
    path = make(tmp_path)
    with pytest.raises(DataError, match=f": {where} holds complex values") as err:
        read_dataset(path, **options)
    assert str(path) in str(err.value) and "\n" not in str(err.value)


def _mtx_folder(folder, coo: sp.coo_matrix):
    folder.mkdir()
    scipy.io.mmwrite(folder / "matrix.mtx", coo, field="integer")
    (folder / "barcodes.tsv").write_text("".join(c + "\n" for c in CELLS))
    (folder / "features.tsv").write_text("".join(f"{g}\t{g}\tGene Expression\n" for g in GENES))
    return folder


@pytest.mark.parametrize(
    "make",
    [
        lambda p: _h5ad(p / "d.h5ad", _repeated_csr()),
        lambda p: _tenx_h5(
            p / "d.h5",
            data=_repeated_csr().T.tocsc().data,  # cells x genes CSR = genes x cells CSC
            indices=_repeated_csr().T.tocsc().indices,
        ),
        lambda p: _mtx_folder(p / "mtx", _repeated_csr().T.tocoo()),
        lambda p: _repeated_tenx_h5(p / "d.h5"),
    ],
    ids=["h5ad", "10x-h5", "10x-mtx", "10x-h5-well-formed"],
)
def test_a_sparse_entry_stored_twice_is_refused_not_summed(tmp_path, make):
    path = make(tmp_path)
    with pytest.raises(DataError, match="record 'c0', feature 'ENSG00' has more than one entry"):
        read_dataset(path)


@pytest.mark.parametrize("fmt", ["h5ad", "10x-h5"])
@pytest.mark.parametrize("row", [0, 2, 3])
@pytest.mark.parametrize("block_rows", [1, 3, 4096])
def test_a_streamed_entry_stored_twice_is_refused_as_its_block_is_read(
    tmp_path, monkeypatch, fmt, row, block_rows
):
    """Streamed, the blocks are checked as they are read (no pass of their own): the error is
    the in-memory reader's, naming the record whatever block it sits in, and a subset of the
    records (a train/held-out split) reads the same file rows."""
    from biovae.data import ondisk

    monkeypatch.setattr(ondisk, "BLOCK_ROWS", block_rows)
    path = (
        _h5ad(tmp_path / "d.h5ad", _repeated_csr(row))
        if fmt == "h5ad"
        else _repeated_tenx_h5(tmp_path / "d.h5", row)
    )
    with pytest.raises(DataError) as whole:
        read_dataset(path)
    message = f"{path}: record 'c{row}', feature 'ENSG00' has more than one entry"
    assert str(whole.value).startswith(message) and "\n" not in str(whole.value)
    with pytest.raises(DataError) as streamed:
        data = read_dataset(path, stream=True)
        data.x.subset(np.array([row, 1])).rows(np.array([1, 0]))  # 10x: the first read
    assert str(streamed.value) == str(whole.value)


@pytest.mark.parametrize("fmt", ["h5ad", "10x-h5"])
def test_rows_read_again_do_not_excuse_a_repeat_in_rows_never_read(tmp_path, fmt):
    """Checked rows are not checked again, but a rank that read only its own records (0 and 2
    of 2 ranks) has not checked record 3: the first read of it is refused, every time, with
    the message of the whole file read into memory. (The stores are opened bare: reading the
    data set would check every record in a first pass, as a fit does on every rank.)"""
    from biovae.data import ondisk

    if fmt == "h5ad":
        path = _h5ad(tmp_path / "d.h5ad", _repeated_csr(3))
        store = ondisk.open_h5ad_matrix(path, names=(CELLS, GENES))
    else:
        path = _repeated_tenx_h5(tmp_path / "d.h5", 3)
        store = ondisk.open_csr_rows(path, "/matrix", COUNTS.shape, names=(CELLS, GENES))
    with pytest.raises(DataError) as whole:
        read_dataset(path)
    for _ in range(3):  # epochs of this rank's shard
        np.testing.assert_array_equal(store.rows(np.array([2, 0])).toarray(), COUNTS[[2, 0]])
    for _ in range(2):  # a failed check is not remembered as passed
        with pytest.raises(DataError) as streamed:
            store.subset(np.array([1, 2, 3])).rows(np.array([2, 1]))
        assert str(streamed.value) == str(whole.value)


def test_a_file_rewritten_with_a_repeat_is_refused_when_read_again(tmp_path):
    """What a reader has checked is its own: the file opened again after it changed (the
    next fit's reader) is checked again."""
    path = _h5ad(tmp_path / "d.h5ad", sp.csr_matrix(COUNTS.astype(np.float32)))
    first = read_dataset(path, stream=True).x
    np.testing.assert_array_equal(np.asarray(first), COUNTS)
    del first
    _h5ad(path, _repeated_csr(1))
    with pytest.raises(DataError, match="record 'c1', feature 'ENSG01' has more than one entry"):
        np.asarray(read_dataset(path, stream=True).x)


def test_a_repeated_entry_in_the_10x_h5_arrays_is_really_there(tmp_path):
    h5py = pytest.importorskip("h5py")
    m = _repeated_csr().T.tocsc()
    path = _tenx_h5(tmp_path / "d.h5", data=m.data, indices=m.indices)
    with h5py.File(path) as fh:  # the first cell's column lists gene 0 twice
        ptr = fh["matrix/indptr"][()]
        assert list(fh["matrix/indices"][ptr[0] : ptr[1]]).count(0) == 2


def test_canonical_sparse_inputs_still_read(tmp_path):
    """The check refuses repeats only: the same matrices without them read as COUNTS."""
    m = sp.csc_matrix(COUNTS.T)
    for path in (
        _h5ad(tmp_path / "d.h5ad", sp.csr_matrix(COUNTS.astype(np.float32))),
        _tenx_h5(tmp_path / "d.h5"),
        _mtx_folder(tmp_path / "mtx", m.tocoo()),
    ):
        np.testing.assert_array_equal(read_dataset(path).x.toarray(), COUNTS)
        if path.suffix in (".h5ad", ".h5"):
            np.testing.assert_array_equal(np.asarray(read_dataset(path, stream=True).x), COUNTS)


def test_unsorted_entries_without_repeats_still_stream(tmp_path):
    """Not canonical is no repeat: a row whose columns are stored out of order reads."""
    m = sp.csr_matrix(COUNTS.astype(np.float32))
    order = np.concatenate([np.arange(a, b)[::-1] for a, b in zip(m.indptr[:-1], m.indptr[1:])])
    unsorted = sp.csr_matrix((m.data[order], m.indices[order], m.indptr), shape=m.shape)
    assert not unsorted.has_sorted_indices
    path = _h5ad(tmp_path / "d.h5ad", unsorted)
    np.testing.assert_array_equal(np.asarray(read_dataset(path, stream=True).x), COUNTS)


def test_a_timedelta_npy_array_is_refused(tmp_path):
    path = tmp_path / "d.npy"
    np.save(path, np.ones((3, 2), dtype="timedelta64[s]"))
    with pytest.raises(DataError, match=r"d\.npy: expected a numeric array .*timedelta64"):
        read_dataset(path)


def test_repeated_h5ad_obs_names_are_one_error_without_anndata_warning(tmp_path):
    ad = pytest.importorskip("anndata")
    adata = ad.AnnData(COUNTS.astype(np.float32))
    adata.obs_names, adata.var_names = ["c0", "c0", "c2", "c3"], GENES
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        adata.write_h5ad(tmp_path / "d.h5ad")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # anndata's own warning would be a second line
        with pytest.raises(DataError, match="duplicate record id 'c0'"):
            read_dataset(tmp_path / "d.h5ad")


def _biom_json(path, shape):
    """A JSON BIOM 1.0 table of COUNTS.T (genes are observations) declaring ``shape``."""
    pytest.importorskip("biom")
    data = [[j, i, int(v)] for (i, j), v in np.ndenumerate(COUNTS) if v]
    table = {
        "id": "t", "format": "Biological Observation Matrix 1.0.0", "format_url": "",
        "type": "OTU table", "generated_by": "test", "date": "2024-01-01T00:00:00",
        "matrix_type": "sparse", "matrix_element_type": "int", "shape": shape, "data": data,
        "rows": [{"id": g, "metadata": None} for g in GENES],
        "columns": [{"id": c, "metadata": None} for c in CELLS],
    }  # fmt: skip
    path.write_text(json.dumps(table))
    return path


def test_a_json_biom_whose_shape_disagrees_with_its_ids_is_refused(tmp_path):
    ok = _biom_json(tmp_path / "ok.biom", [3, 4])
    np.testing.assert_array_equal(read_dataset(ok).x, COUNTS)
    for shape in ([5, 4], [2, 4], [3, 6]):
        path = _biom_json(tmp_path / "bad.biom", shape)
        with pytest.raises(DataError, match=r"bad\.biom: field 'shape' declares"):
            read_dataset(path)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("e.pdb", b"", r"the file is empty \(0 bytes\)"),
        ("e.cif", b"", r"the file is empty \(0 bytes\)"),
        ("w.pdb", "REMARK caf\u00e9\n".encode("cp1252"), r"not UTF-8 text \(line 1\)"),
    ],
)
def test_structure_files_empty_or_not_utf8_name_the_cause(
    tmp_path, fixtures_dir, name, content, message
):
    pytest.importorskip("MDAnalysis")
    pytest.importorskip("gemmi")
    from biovae.data.structure import read_structures

    path = tmp_path / name
    pdb = (fixtures_dir / "ubiquitin_2k39_ca_12.pdb").read_bytes()
    path.write_bytes(content + (pdb if content else b""))
    with pytest.raises(DataError, match=f"{name}: {message}"):
        read_structures(path)


@pytest.mark.parametrize("case", ["complex", "repeated"])
def test_cli_fit_exits_2_with_one_line_and_writes_nothing(tmp_path, capsys, case):
    data = (
        _h5ad(tmp_path / "d.h5ad", sp.csr_matrix(COMPLEX))
        if case == "complex"
        else _mtx_folder(tmp_path / "mtx", _repeated_csr().T.tocoo())
    )
    out = tmp_path / "model"
    rc, _, err = run(capsys, "fit", data, "--likelihood", "nb", "--epochs", "1", "--out", out)
    assert rc == 2 and "Traceback" not in err
    assert err.strip().count("\n") == 0 and str(data) in err
    assert not out.exists()


@pytest.mark.parametrize("fmt", ["h5ad", "10x-h5"])
def test_cli_fit_refuses_a_repeated_entry_alike_with_and_without_stream(tmp_path, capsys, fmt):
    data = (
        _h5ad(tmp_path / "d.h5ad", _repeated_csr(2))
        if fmt == "h5ad"
        else _repeated_tenx_h5(tmp_path / "d.h5", 2)
    )
    errors = []
    for stream in ([], ["--stream"]):
        out = tmp_path / f"model{len(stream)}"
        fit = ["fit", data, *stream, "--likelihood", "nb", "--epochs", "1", "--out", out]
        rc, _, err = run(capsys, *fit)
        assert rc == 2 and "Traceback" not in err and not out.exists()
        errors.append(err.strip().splitlines()[-1])  # --stream on 10x first says what it read
    assert errors[0] == errors[1]
    assert "record 'c2', feature 'ENSG00' has more than one entry" in errors[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == [data.name]


def test_a_backed_anndata_names_the_repeated_entry_as_its_first_block_is_read(tmp_path):
    """A backed AnnData streams its X: the blocks read name the cell and gene too."""
    ad = pytest.importorskip("anndata")
    from biovae.inputs import as_dataset

    path = _h5ad(tmp_path / "d.h5ad", _repeated_csr(3))
    backed = ad.read_h5ad(path, backed="r")
    try:
        store = as_dataset(backed).x
        with pytest.raises(DataError, match="record 'c3', feature 'ENSG00' has more than one"):
            next(b for _, b in store.blocks())
    finally:
        backed.file.close()
