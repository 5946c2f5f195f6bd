"""10x Cell Ranger readers on tiny matrices written in the test from a known count table."""

from __future__ import annotations

import gzip

import numpy as np
import pytest
import scipy.io
import scipy.sparse as sp

from biovae.data import read_dataset
from biovae.data.tenx import read_10x_h5, read_10x_mtx
from biovae.errors import DataError
from tests._gzip import WHERE, damaged_gzip
from tests.cli._run import run

# cells x genes; the last feature is an antibody-capture feature that must be dropped
COUNTS = np.array([[0, 3, 1, 7], [2, 0, 0, 9], [0, 0, 5, 4]], dtype=np.int64)
BARCODES = ["AAAC-1", "AAAG-1", "AACT-1"]
IDS = ["ENSG01", "ENSG02", "ENSG03", "CD3"]
NAMES = ["A", "B", "B", "CD3_TotalSeqB"]  # symbols are not unique, ids are
TYPES = ["Gene Expression"] * 3 + ["Antibody Capture"]


def write_gz(path, lines):
    with gzip.open(path, "wt") as fh:
        fh.write("".join(line + "\n" for line in lines))


def mtx_dir(tmp_path, version=3, types=TYPES):
    d = tmp_path / f"filtered_v{version}"
    d.mkdir()
    if version == 3:
        scipy.io.mmwrite(str(d / "matrix.mtx"), sp.coo_matrix(COUNTS.T))
        write_gz(d / "barcodes.tsv.gz", BARCODES)
        write_gz(d / "features.tsv.gz", [f"{i}\t{n}\t{t}" for i, n, t in zip(IDS, NAMES, types)])
    else:
        scipy.io.mmwrite(str(d / "matrix.mtx"), sp.coo_matrix(COUNTS[:, :3].T))
        (d / "barcodes.tsv").write_text("\n".join(BARCODES) + "\n")
        (d / "genes.tsv").write_text("".join(f"{i}\t{n}\n" for i, n in zip(IDS[:3], NAMES)))
    return d


def h5_file(tmp_path, version=3, types=TYPES):
    h5py = pytest.importorskip("h5py")
    path = tmp_path / f"v{version}.h5"
    csc = sp.csc_matrix(COUNTS.T)  # genes x cells, compressed by cell
    with h5py.File(path, "w") as fh:
        g = fh.create_group("matrix" if version == 3 else "GRCh38")
        g["data"], g["indices"], g["indptr"] = csc.data, csc.indices, csc.indptr
        g["shape"] = np.array(csc.shape)
        g["barcodes"] = np.array(BARCODES, dtype="S")
        if version == 3:
            f = g.create_group("features")
            f["id"], f["name"] = np.array(IDS, dtype="S"), np.array(NAMES, dtype="S")
            f["feature_type"] = np.array(types, dtype="S")
        else:
            g["genes"] = np.array(IDS, dtype="S")
    return path


def check(ds, n_genes=3):
    assert ds.x.shape == (3, n_genes) and sp.issparse(ds.x)
    np.testing.assert_array_equal(ds.x.toarray(), COUNTS[:, :n_genes])
    assert list(ds.ids) == BARCODES
    assert ds.features == tuple(IDS[:n_genes])


def test_mtx_folder_v3_keeps_gene_expression_only(tmp_path):
    check(read_10x_mtx(mtx_dir(tmp_path)))


def test_mtx_folder_v2_and_read_dataset_infers_the_format_from_a_folder(tmp_path):
    check(read_dataset(mtx_dir(tmp_path, version=2)))


def test_h5_v3_and_v2(tmp_path):
    check(read_10x_h5(h5_file(tmp_path)))
    check(read_dataset(h5_file(tmp_path, version=2)), n_genes=4)


def test_missing_files_and_foreign_h5_are_one_line_errors(tmp_path):
    d = mtx_dir(tmp_path)
    (d / "barcodes.tsv.gz").unlink()
    with pytest.raises(DataError, match=r"no barcodes\.tsv"):
        read_10x_mtx(d)
    h5py = pytest.importorskip("h5py")
    with h5py.File(tmp_path / "other.h5", "w") as fh:
        fh["x"] = np.arange(3)
    with pytest.raises(DataError, match="not a 10x Cell Ranger"):
        read_dataset(tmp_path / "other.h5")
    with pytest.raises(DataError, match="not a directory"):
        read_dataset(tmp_path / "other.h5", fmt="10x-mtx")


def test_mismatched_barcodes_are_an_error(tmp_path):
    d = mtx_dir(tmp_path)
    write_gz(d / "barcodes.tsv.gz", BARCODES[:2])
    with pytest.raises(DataError, match="do not belong together"):
        read_10x_mtx(d)


#: a second copy of one file beside the folder's own: (version, file added, file already there)
_SECOND_COPY = [
    (3, "matrix.mtx.gz", "matrix.mtx"),
    (3, "barcodes.tsv", "barcodes.tsv.gz"),
    (3, "features.tsv", "features.tsv.gz"),
    (3, "genes.tsv", "features.tsv.gz"),
    (2, "barcodes.tsv.gz", "barcodes.tsv"),
    (2, "features.tsv.gz", "genes.tsv"),
]


@pytest.mark.parametrize(("version", "extra", "own"), _SECOND_COPY)
def test_two_candidates_for_one_10x_file_are_refused_naming_both(
    tmp_path, capsys, version, extra, own
):
    """A plain file beside a gzipped one (or v2 genes.tsv beside v3 features.tsv.gz) was read
    silently, the plain (or features) file winning: another run's barcodes or genes could be
    paired with this matrix without any error. Both are named, with the fix; nothing written."""
    d = mtx_dir(tmp_path, version=version)
    lines = {"matrix": None, "barcodes": [f"OTHER{i}-1" for i in range(3)]}.get(
        extra.split(".")[0], [f"ENSX{i}\tX{i}\tGene Expression" for i in range(3)]
    )
    if lines is None:
        with gzip.open(d / extra, "wb") as fh:
            scipy.io.mmwrite(fh, sp.coo_matrix(COUNTS.T))
    elif extra.endswith(".gz"):
        write_gz(d / extra, lines)
    else:
        (d / extra).write_text("".join(line + "\n" for line in lines))
    first, second = sorted([own, extra], key=lambda n: (n.startswith("genes"), n.endswith(".gz")))
    both = rf"\({first.replace('.', '[.]')} and {second.replace('.', '[.]')}\)"
    with pytest.raises(DataError, match=rf"2 candidates for one 10x file {both}.*remove"):
        read_10x_mtx(d)
    out = tmp_path / "m"
    rc, stdout, err = run(capsys, "fit", d, "--likelihood", "nb", "--out", out)
    assert rc == 2 and stdout == "" and not out.exists()
    assert len(err.strip().splitlines()) == 1 and f"{first} and {second}" in err


@pytest.mark.parametrize("version", [3, 2])
def test_h5_streamed_equals_read_whole(tmp_path, version):
    from biovae.data.fingerprint import fingerprint
    from biovae.data.ondisk import RowStore

    path = h5_file(tmp_path, version=version)
    whole, streamed = read_dataset(path), read_dataset(path, stream=True)
    assert isinstance(streamed.x, RowStore) and streamed.x.shape == whole.x.shape
    for rows in ([2, 0, 0], [1], [0, 1, 2]):
        np.testing.assert_array_equal(
            streamed.x.rows(np.array(rows)).toarray(), whole.x[rows].toarray()
        )
    assert streamed.features == whole.features and list(streamed.ids) == list(whole.ids)
    assert fingerprint(streamed) == fingerprint(whole)


@pytest.mark.parametrize("index", [4, 500])
@pytest.mark.parametrize("stream", [False, True])
def test_h5_gene_index_out_of_range_is_a_one_line_error(tmp_path, index, stream):
    # scipy does not check indices when building the matrix: one past the last feature
    # trained silently, one far beyond it crashed the interpreter (segmentation fault)
    h5py = pytest.importorskip("h5py")
    path = h5_file(tmp_path, version=2)
    with h5py.File(path, "r+") as fh:
        indices = fh["GRCh38/indices"][()]
        indices[1] = index
        del fh["GRCh38/indices"]
        fh["GRCh38/indices"] = indices
    with pytest.raises(DataError, match=rf"^{path}: .*(must be <|outside 0 \.\.)"):
        ds = read_dataset(path, stream=stream)
        ds.x.rows(np.arange(3)) if stream else None


@pytest.mark.parametrize("stream", [False, True])
def test_h5_v2_of_several_genomes_is_refused_not_read_in_part(tmp_path, stream):
    # a mixed-species Cell Ranger 2 file keeps each genome's genes in its own group: the
    # first group alone was read, dropping the other genome's genes without a word
    h5py = pytest.importorskip("h5py")
    path = h5_file(tmp_path, version=2)
    with h5py.File(path, "r+") as fh:
        fh.copy("GRCh38", "mm10")
    with pytest.raises(DataError, match=r"2 genomes \(GRCh38, mm10\); only a one-genome") as err:
        read_dataset(path, stream=stream)
    assert "not a 10x Cell Ranger" not in str(err.value)


def test_h5_streamed_with_a_bad_indptr_is_reported_once(tmp_path):
    h5py = pytest.importorskip("h5py")
    path = h5_file(tmp_path)
    with h5py.File(path, "r+") as fh:
        fh["matrix/indptr"][-1] += 2
    with pytest.raises(DataError, match=r"^\S+: the sparse matrix /matrix is malformed") as err:
        read_dataset(path, stream=True)
    assert "not a 10x Cell Ranger" not in str(err.value)


@pytest.mark.parametrize("stream", [False, True])
def test_an_h5ad_named_h5_and_an_empty_h5_are_named_for_what_they_are(tmp_path, stream):
    # an AnnData file saved as .h5 was refused as "a Cell Ranger 2 .h5 of 9 genomes (X,
    # layers, obs, …)", and an HDF5 file without groups crashed with an IndexError
    h5py = pytest.importorskip("h5py")
    with h5py.File(tmp_path / "adata.h5", "w") as fh:
        fh.attrs["encoding-type"] = "anndata"
        for name in ("X", "obs", "var", "uns"):
            fh.create_group(name)
    with pytest.raises(DataError, match=r"an AnnData \(\.h5ad\) file, .*--format h5ad") as err:
        read_dataset(tmp_path / "adata.h5", stream=stream)
    assert "genomes" not in str(err.value)
    with h5py.File(tmp_path / "empty.h5", "w"):
        pass
    with pytest.raises(DataError, match=r"an empty HDF5 file \(no matrix group\)"):
        read_dataset(tmp_path / "empty.h5", stream=stream)


@pytest.mark.parametrize("name", ["matrix.mtx", "matrix.mtx.gz"])
def test_the_matrix_file_itself_points_to_its_folder(tmp_path, name):
    # the file was refused as an unknown extension, with a list of 27 others and no word of
    # the folder a 10x matrix is read from
    d = mtx_dir(tmp_path)
    if name.endswith(".gz"):
        write_gz(d / name, (d / "matrix.mtx").read_text().splitlines())
        (d / "matrix.mtx").unlink()  # two copies of the matrix are refused
    with pytest.raises(DataError, match=rf"pass the folder holding them \({d}\) as a 10x") as err:
        read_dataset(d / name)
    assert "supported extensions" not in str(err.value)
    check(read_dataset(d))


def test_files_named_with_a_geo_prefix_are_named_with_the_fix(tmp_path):
    # GSM123_matrix.mtx.gz: the file pointed to its folder, and the folder was "a folder
    # without matrix.mtx" with no word of the prefix; each error sent the user to the other
    d = mtx_dir(tmp_path)
    for name in ("matrix.mtx", "barcodes.tsv.gz", "features.tsv.gz"):
        (d / name).rename(d / f"GSM123_{name}")
    fix = r"10x files named with the prefix 'GSM123_' \(GSM123_matrix\.mtx\) are read under"
    for path in (d, d / "GSM123_matrix.mtx"):
        with pytest.raises(DataError, match=rf"{path}: .*{fix}.*named without 'GSM123_'"):
            read_dataset(path)


#: each file of a matrix.mtx folder, gzipped, with text enough to damage in its middle
_TEXT = {
    "barcodes.tsv.gz": "".join(f"CELL{i:05d}-1\n" for i in range(3000)),
    "features.tsv.gz": "".join(f"ENSG{i:05d}\tG{i}\tGene Expression\n" for i in range(3000)),
    "matrix.mtx.gz": "%%MatrixMarket matrix coordinate integer general\n3000 3000 3000\n"
    + "".join(f"{i + 1} {3000 - i} {i % 7 + 1}\n" for i in range(3000)),
}


@pytest.mark.parametrize("where", WHERE)
@pytest.mark.parametrize("name", list(_TEXT))
def test_a_damaged_gzip_10x_file_is_a_one_line_error(tmp_path, capsys, name, where):
    """A 10x folder with a .gz file whose deflate stream is damaged raised zlib.error (no
    OSError, and scipy's mmread decompresses matrix.mtx.gz itself): a traceback and exit
    status 1 from 'biovae fit' instead of exit 2."""
    d = mtx_dir(tmp_path)
    (d / "matrix.mtx").unlink()
    write_gz(d / "matrix.mtx.gz", _TEXT["matrix.mtx.gz"].splitlines())
    (d / name).write_bytes(damaged_gzip(_TEXT[name].encode(), where))
    message = rf"{name.replace('.', '[.]')}: could not read the .* \(Error -3 .*gzip -t"
    with pytest.raises(DataError, match=message):
        read_dataset(d)
    out = tmp_path / "m"
    rc, stdout, err = run(capsys, "fit", d, "--likelihood", "nb", "--out", out)
    assert rc == 2 and stdout == "" and not out.exists()
    assert len(err.strip().splitlines()) == 1 and f"{name}: could not read the" in err


def _mtx_folder(tmp_path, banner: str, entries: list[str]):
    """The v2 folder of :func:`mtx_dir` with its matrix.mtx replaced (3 genes x 3 cells)."""
    d = mtx_dir(tmp_path, version=2)
    lines = [f"%%MatrixMarket matrix coordinate {banner}", f"3 3 {len(entries)}", *entries]
    (d / "matrix.mtx").write_text("\n".join(lines) + "\n")
    return d


@pytest.mark.parametrize("gz", [False, True])
def test_an_integer_matrix_mtx_is_read_value_for_value(tmp_path, gz):
    """scipy parses an 'integer' file's values up to the first non-digit: 2.5 was read as 2 and
    1e+06 as 1, silently, so a count model trained on other data than the file's, and the
    likelihood check that names a non-integer count's cell and gene never saw it."""
    from biovae import likelihoods
    from biovae.config import LikelihoodConfig
    from biovae.support import check_data

    d = _mtx_folder(tmp_path, "integer general", ["1 1 7", "2 3 1e+06", "3 2 2.5"])
    if gz:
        write_gz(d / "matrix.mtx.gz", (d / "matrix.mtx").read_text().splitlines())
        (d / "matrix.mtx").unlink()
    ds = read_dataset(d)
    expected = np.zeros((3, 3))
    expected[0, 0], expected[2, 1], expected[1, 2] = 7, 1e6, 2.5  # cells x genes
    np.testing.assert_array_equal(ds.x.toarray(), expected)
    nb = likelihoods.build(LikelihoodConfig(name="nb"), (3,))
    with pytest.raises(DataError, match=r"value 2\.5 in record 'AAAG-1', feature 'ENSG03' is not"):
        check_data(nb, ds)


@pytest.mark.parametrize(
    ("banner", "message"),
    [
        ("complex general", "a Matrix Market file of complex values"),
        ("integer symmetric", "a symmetric Matrix Market matrix, whose entries would be mirrored"),
        ("real skew-symmetric", "a skew-symmetric Matrix Market matrix"),
    ],
)
def test_a_complex_or_symmetric_matrix_mtx_is_refused(tmp_path, banner, message):
    """A complex matrix lost its imaginary parts with only a ComplexWarning, and a symmetric
    one had each entry mirrored across the diagonal: counts a genes x cells matrix never held."""
    entries = ["2 1 4 1"] if banner.startswith("complex") else ["2 1 4"]
    d = _mtx_folder(tmp_path, banner, entries)
    with pytest.raises(DataError, match=rf"^{d / 'matrix.mtx'}: {message}"):
        read_dataset(d)


@pytest.mark.parametrize("kind", ["mtx", "h5", "h5-stream"])
def test_a_matrix_without_gene_expression_names_the_types_it_has(tmp_path, kind):
    """An antibody-only matrix was refused as 'no cells or no Gene Expression features',
    without saying which, what the file holds instead, or what to do."""
    types = ["Antibody Capture"] * 4
    path = mtx_dir(tmp_path, types=types) if kind == "mtx" else h5_file(tmp_path, types=types)
    with pytest.raises(DataError, match=r"no 'Gene Expression' features among its 4 features "):
        read_dataset(path, stream=kind == "h5-stream")
    with pytest.raises(DataError, match=r"feature types: 'Antibody Capture'\).*gex_only=False"):
        read_dataset(path, stream=kind == "h5-stream")


@pytest.mark.parametrize("what", ["cells", "features"])
def test_a_matrix_of_no_cells_or_no_genes_says_which(tmp_path, what):
    d = mtx_dir(tmp_path, version=2)
    if what == "cells":
        (d / "barcodes.tsv").write_text("")
        header = "3 0 0"
    else:
        (d / "genes.tsv").write_text("")
        header = "0 3 0"
    (d / "matrix.mtx").write_text(f"%%MatrixMarket matrix coordinate integer general\n{header}\n")
    with pytest.raises(DataError, match=rf"^{d}: the matrix has 0 {what}; check that"):
        read_dataset(d)


def test_a_sparse_matrix_mtx_is_read_without_the_dense_matrix(tmp_path):
    """20,000 genes x 5,000 cells at 0.05 % density: 400 MB dense in float32, 50,000 counts
    (few, so that scipy < 1.12's pure-Python mmread/mmwrite take seconds, not minutes)."""
    import tracemalloc

    d = tmp_path / "big"
    d.mkdir()
    rng = np.random.default_rng(0)
    counts = sp.random(20_000, 5_000, density=0.0005, format="coo", random_state=rng)
    counts.data = rng.integers(1, 50, counts.nnz).astype(np.float64)
    scipy.io.mmwrite(str(d / "matrix.mtx"), counts, field="integer")
    write_gz(d / "barcodes.tsv.gz", [f"C{i}-1" for i in range(5_000)])
    write_gz(d / "features.tsv.gz", [f"G{i}\tg{i}\tGene Expression" for i in range(20_000)])
    tracemalloc.start()
    try:
        ds = read_dataset(d)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert sp.issparse(ds.x) and ds.x.nnz == counts.nnz
    np.testing.assert_array_equal(ds.x[:50].toarray(), counts.T.tocsr()[:50].toarray())
    assert peak < 20_000 * 5_000 * 4 / 8  # the dense float32 matrix is 400 MB
