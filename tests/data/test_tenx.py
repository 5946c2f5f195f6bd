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


def mtx_dir(tmp_path, version=3):
    d = tmp_path / f"filtered_v{version}"
    d.mkdir()
    if version == 3:
        scipy.io.mmwrite(str(d / "matrix.mtx"), sp.coo_matrix(COUNTS.T))
        write_gz(d / "barcodes.tsv.gz", BARCODES)
        write_gz(d / "features.tsv.gz", [f"{i}\t{n}\t{t}" for i, n, t in zip(IDS, NAMES, TYPES)])
    else:
        scipy.io.mmwrite(str(d / "matrix.mtx"), sp.coo_matrix(COUNTS[:, :3].T))
        (d / "barcodes.tsv").write_text("\n".join(BARCODES) + "\n")
        (d / "genes.tsv").write_text("".join(f"{i}\t{n}\n" for i, n in zip(IDS[:3], NAMES)))
    return d


def h5_file(tmp_path, version=3):
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
            f["feature_type"] = np.array(TYPES, dtype="S")
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
