"""Checks of a matrix's stored values that casting or sparse arithmetic would hide.

numpy casts complex values to float32 by dropping the imaginary part (a ``ComplexWarning``
and nothing more), and scipy sums a sparse matrix's repeated (row, column) entries when it
converts or computes with it: a count stored twice would be trained on as their sum. Both
are refused with one line naming the file (and, for a repeated entry, its record and feature).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp

from biovae.errors import DataError


def check_real(dtype: np.dtype, source: str, where: str = "the matrix") -> None:
    """Refuse complex values, whose imaginary part a cast to float32 would drop silently.

    Parameters
    ----------
    dtype
        The stored dtype of the values (before any cast).
    source
        File name used in the message.
    where
        What holds the values (``"X"``, ``"layers/counts"``, ``"/matrix/data"``).
    """
    if np.dtype(dtype).kind == "c":
        raise DataError(
            f"{source}: {where} holds complex values ({np.dtype(dtype)}); features are real "
            "numbers: save the real part (e.g. x.real) or the counts it came from"
        )


def check_single_entries(
    m: sp.spmatrix | np.ndarray,
    ids: Sequence[str],
    features: Sequence[str],
    source: str,
    rows: np.ndarray | None = None,
) -> None:
    """Refuse a sparse records x features matrix (CSR, CSC or COO) that stores a (record,
    feature) entry more than once; dense arrays pass. Nothing more than scipy's cached
    ``has_canonical_format`` for canonical CSR/CSC (sorted, no repeats, as anndata and Cell
    Ranger write); a sort of the entries otherwise.

    ``rows``, for a block of rows read from a larger matrix (a streamed file, checked block
    by block as it is read), gives the record each of its rows is (an index into ``ids``);
    by default row ``i`` is record ``i``. A CSR row's entries are stored together, so a
    check of every block read is a check of the whole matrix."""
    if not sp.issparse(m) or (m.format in ("csr", "csc") and m.has_canonical_format):
        return  # canonical: sorted and no repeats (a CSC one, as anndata keeps some layers)
    coo = m.tocoo()
    if coo.tocsr().nnz == coo.nnz:  # the conversion sums repeated entries
        return
    key = coo.row.astype(np.int64) * m.shape[1] + coo.col
    order = np.argsort(key, kind="stable")
    repeat = order[np.flatnonzero(key[order][1:] == key[order][:-1])[0] + 1]
    row, col = int(coo.row[repeat]), int(coo.col[repeat])
    row = row if rows is None else int(rows[row])
    record = f"record '{ids[row]}'" if row < len(ids) else f"record {row + 1}"
    feature = f"feature '{features[col]}'" if col < len(features) else f"feature {col + 1}"
    raise DataError(
        f"{source}: {record}, {feature} has more than one entry in the sparse matrix (they "
        "would be summed); a matrix holds one value per record and feature: write it again "
        "from its source (or sum the repeats first, e.g. scipy's m.sum_duplicates(), if they "
        "are parts of one count)"
    )
