"""10x Genomics Cell Ranger outputs: ``matrix.mtx`` directories and ``.h5`` feature matrices.

Both store genes × cells counts; they are read as cells × genes CSR (float32, kept sparse).
Record ids are the cell barcodes; feature names are the gene ids (Ensembl ids, unique), and
only features of type "Gene Expression" are kept when a type column exists (antibody capture
and CRISPR guides are other assays). The gene symbols go nowhere: they are not unique (a
repeated gene id is renamed as anndata's ``var_names_make_unique`` does, with a warning).
Cells and genes without counts are kept. ``matrix.mtx`` is read by :mod:`biovae.data.mtx`.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from biovae.data._entries import check_real, check_single_entries
from biovae.data._messages import UNREADABLE, preview, unreadable
from biovae.data._text import ENCODING, not_utf8
from biovae.data.dataset import Dataset
from biovae.data.mtx import read_mtx
from biovae.data.ondisk import open_csr_rows
from biovae.errors import DataError, require

GENE_EXPRESSION = "Gene Expression"


def _find(directory: Path, names: tuple[str, ...]) -> Path:
    """The one file of a role (``names``: the matrix, the barcodes, or the features under their
    v3 or v2 name), plain or ``.gz``. Two candidates (``barcodes.tsv`` beside
    ``barcodes.tsv.gz``, ``genes.tsv`` beside ``features.tsv.gz``) are refused rather than one
    picked by a rule: they may come from different runs, and a matrix read with another run's
    barcodes or genes is wrong without any error."""
    found = [
        candidate
        for name in names
        for candidate in (directory / name, directory / f"{name}.gz")
        if candidate.is_file()
    ]
    if len(found) > 1:
        both = " and ".join(p.name for p in found)
        raise DataError(
            f"{directory}: {len(found)} candidates for one 10x file ({both}), which may come "
            "from different runs; remove (or move away) the extra one so that the folder "
            "holds one matrix, one barcodes and one features (or genes) file"
        )
    if found:
        return found[0]
    raise DataError(
        f"{directory}: no {' or '.join(names)} (optionally .gz) in this 10x directory; point "
        "to Cell Ranger's filtered_feature_bc_matrix folder"
    )


def _lines(path: Path) -> list[list[str]]:
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt", encoding=ENCODING) as fh:  # a byte-order mark: not a barcode
            return [line.rstrip("\n").split("\t") for line in fh if line.strip()]
    except UNREADABLE as exc:  # zlib.error too: a damaged deflate stream is no OSError
        raise unreadable(path, exc, "the 10x file") from exc
    except UnicodeDecodeError as exc:
        raise not_utf8(path, "it", ", or replace it with Cell Ranger's file") from exc


def read_10x_mtx(directory: str | Path) -> Dataset:
    """Read a Cell Ranger ``matrix.mtx`` folder (v3 ``features.tsv`` or v2 ``genes.tsv``)."""
    directory = Path(directory)
    matrix_path = _find(directory, ("matrix.mtx",))
    barcodes = [row[0] for row in _lines(_find(directory, ("barcodes.tsv",)))]
    features = _lines(_find(directory, ("features.tsv", "genes.tsv")))
    try:
        genes_by_cells = read_mtx(matrix_path)  # COO: repeated entries are not yet summed
    except DataError:
        raise
    except UNREADABLE as exc:  # a damaged matrix.mtx.gz
        raise unreadable(matrix_path, exc, "the Matrix Market file") from exc
    except ValueError as exc:
        raise DataError(f"{matrix_path}: not a readable Matrix Market file ({exc})") from exc
    types = [row[2] if len(row) > 2 else GENE_EXPRESSION for row in features]
    return _dataset(genes_by_cells.T, barcodes, [r[0] for r in features], types, str(directory))


def read_10x_h5(path: str | Path, *, stream: bool = False) -> Dataset:
    """Read a Cell Ranger ``.h5`` feature-barcode matrix (v3 ``matrix`` group or the genome
    group of a one-genome v2 file); with ``stream`` the counts stay on disk (a
    :class:`~biovae.data.ondisk.RowStore`)."""
    h5py = require("h5py", "singlecell")
    try:
        with h5py.File(path, "r") as fh:
            group = fh["matrix"] if "matrix" in fh else _genome_group(fh, path)
            shape = tuple(int(v) for v in group["shape"][()])
            where = group.name
            # genes x cells in CSC = cells x genes in CSR with the same three arrays
            x = None
            if not stream:
                check_real(group["data"].dtype, str(path), group["data"].name)
                x = sp.csr_matrix(
                    (group["data"][()], group["indices"][()], group["indptr"][()]),
                    shape=(shape[1], shape[0]),
                )
                _check_indices(x, path)
            barcodes = _text(group["barcodes"][()])
            if "features" in group:
                ids = _text(group["features"]["id"][()])
                kinds = group["features"].get("feature_type")
                types = _text(kinds[()]) if kinds is not None else [GENE_EXPRESSION] * len(ids)
            else:
                ids = _text(group["genes"][()])
                types = [GENE_EXPRESSION] * len(ids)
    except DataError:
        raise
    except (OSError, KeyError, StopIteration, ValueError) as exc:
        raise DataError(
            f"{path}: not a 10x Cell Ranger .h5 matrix ({exc}); pass the "
            "filtered_feature_bc_matrix.h5 file"
        ) from exc
    if stream:
        keep = _gene_expression(types, shape[1], str(path))
        if len(barcodes) != shape[1] or len(ids) != shape[0]:
            raise DataError(
                f"{path}: the matrix is {shape[0]} features x {shape[1]} cells but there are "
                f"{len(ids)} features and {len(barcodes)} barcodes; the file is damaged"
            )
        try:
            columns = None if keep.size == shape[0] else keep
            x = open_csr_rows(path, where, (shape[1], shape[0]), columns, (barcodes, ids))
        except DataError:
            raise
        except (OSError, KeyError, ValueError) as exc:
            raise DataError(
                f"{path}: not a 10x Cell Ranger .h5 matrix ({exc}); pass the "
                "filtered_feature_bc_matrix.h5 file"
            ) from exc
        features = [ids[i] for i in keep]
        return Dataset(x, np.asarray(barcodes, dtype=object), features, {}, source=str(path))
    return _dataset(x, barcodes, ids, types, str(path))


def _check_indices(x: sp.csr_matrix, path: str | Path) -> None:
    """scipy checks no gene index when the matrix is built: one past the last gene was
    trained on silently, one far beyond it crashed the gene selection (segmentation fault)."""
    try:
        x.check_format(full_check=True)
    except ValueError as exc:
        raise DataError(
            f"{path}: the sparse matrix is damaged ({exc}, a gene index out of range or an "
            "inconsistent indptr); export the filtered_feature_bc_matrix.h5 again"
        ) from None


def _genome_group(fh, path: str | Path):
    """The one genome group of a Cell Ranger 2 file; a file of several genomes (a mixed-species
    run keeps each genome's genes in its own group) is refused rather than read in part. An
    AnnData file saved as ``.h5`` (its X, obs, var… read as "genomes") and an empty file are
    named for what they are."""
    genomes = list(fh.keys())
    if fh.attrs.get("encoding-type") == "anndata" or {"X", "obs", "var"} <= set(genomes):
        raise DataError(
            f"{path}: an AnnData (.h5ad) file, not a 10x Cell Ranger .h5 matrix; read it as "
            "h5ad (--format h5ad, fmt='h5ad') or rename it to .h5ad"
        )
    if not genomes:
        raise DataError(
            f"{path}: an empty HDF5 file (no matrix group), not a 10x Cell Ranger .h5 matrix; "
            "pass the filtered_feature_bc_matrix.h5 file"
        )
    if len(genomes) > 1:
        raise DataError(
            f"{path}: a Cell Ranger 2 .h5 of {len(genomes)} genomes ({', '.join(genomes)}); "
            "only a one-genome file is read: write one genome to .h5ad first (e.g. "
            "scanpy.read_10x_h5(path, genome=...).write_h5ad(...))"
        )
    return fh[genomes[0]]


def _text(values: np.ndarray) -> list[str]:
    return [v.decode() if isinstance(v, bytes) else str(v) for v in values]


def _dataset(x, barcodes: list[str], ids: list[str], types: list[str], source: str) -> Dataset:
    """``x``: cells x genes, CSR, COO (a transposed ``matrix.mtx``) or dense."""
    if x.shape != (len(barcodes), len(ids)):
        raise DataError(
            f"{source}: the matrix is {x.shape[1]} features x {x.shape[0]} cells but there are "
            f"{len(ids)} features and {len(barcodes)} barcodes; the files do not belong together"
        )
    check_single_entries(x, barcodes, ids, source)
    x = sp.csr_matrix(x, dtype=np.float32)
    keep = _gene_expression(types, x.shape[0], source)
    x = x[:, keep]
    return Dataset(x, np.asarray(barcodes, dtype=object), [ids[i] for i in keep], {}, source=source)


def _gene_expression(types: list[str], n_cells: int, source: str) -> np.ndarray:
    """Positions of the Gene Expression features, or a one-line error naming what is missing:
    the cells, or such features (with the types the file has instead, e.g. an antibody-only
    or ATAC-only matrix)."""
    if n_cells == 0 or not types:
        what = "cells" if n_cells == 0 else "features"
        raise DataError(
            f"{source}: the matrix has 0 {what}; check that this is the sample's "
            "filtered_feature_bc_matrix and that the filtering which wrote it kept some"
        )
    keep = np.flatnonzero(np.asarray(types, dtype=object) == GENE_EXPRESSION)
    if keep.size == 0:
        found = sorted(set(types))
        raise DataError(
            f"{source}: no '{GENE_EXPRESSION}' features among its {len(types)} features "
            f"(feature types: {preview(found)}); biovae reads the gene expression counts of a "
            "10x matrix only: to model other features, write them to .h5ad or CSV first (e.g. "
            "scanpy.read_10x_mtx(path, gex_only=False))"
        )
    return keep
