"""Matrix Market (``.mtx``, optionally ``.gz``) files read value for value.

scipy's reader (fast_matrix_market) parses the values of a file whose header declares
``integer`` as integers and stops at the first character that is not a digit: ``2.7`` was read
as 2 and ``1e+06`` as 1, silently. The header's field is therefore read as ``real``, whose
values are parsed in full (counts are exact up to 2**53), so that what the file holds reaches
the likelihood checks, which name a non-integer count's cell and gene. A complex matrix (its
imaginary parts would be dropped with a warning) and a symmetric one (scipy mirrors each
entry across the diagonal, inventing counts in a genes x cells matrix) are refused.
"""

from __future__ import annotations

import gzip
import inspect
import io
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from biovae.errors import DataError

#: Matrix Market fields whose values scipy parses as integers (and would truncate)
_INTEGER_FIELDS = (b"integer", b"unsigned-integer")


def read_mtx(path: Path) -> sp.coo_matrix | np.ndarray:
    """The matrix of a Matrix Market file (COO for coordinate files, an array for dense ones),
    its values parsed in full.

    Raises
    ------
    DataError
        For a complex or non-general (symmetric, skew-symmetric, Hermitian) matrix.
    ValueError, OSError, EOFError, zlib.error
        As :func:`scipy.io.mmread` for malformed text and damaged files.
    """
    from scipy.io import mmread

    # scipy 1.18 warns that mmread's default changes to sparse arrays; ask for what we use
    kwargs = {"spmatrix": True} if "spmatrix" in inspect.signature(mmread).parameters else {}
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as fh:
        banner = fh.readline()
        return mmread(_Prefixed(_as_real(banner, path), fh), **kwargs)


def _as_real(banner: bytes, path: Path) -> bytes:
    """The banner line with an integer field relabelled ``real``; the refusals of the module
    docstring. A line that is no banner is left for scipy to refuse."""
    words = banner.split()
    if len(words) < 5 or words[0].lower() != b"%%matrixmarket":
        return banner
    field, symmetry = words[3].lower(), words[4].lower()
    if field == b"complex":
        raise DataError(
            f"{path}: a Matrix Market file of complex values; counts are real numbers: write "
            "the matrix again with a real or integer field"
        )
    if symmetry != b"general":
        raise DataError(
            f"{path}: a {symmetry.decode(errors='replace')} Matrix Market matrix, whose entries "
            "would be mirrored across the diagonal; a genes x cells count matrix is 'general': "
            "write it again with symmetry 'general' (e.g. scipy.io.mmwrite(path, m, "
            "symmetry='general'))"
        )
    if field not in _INTEGER_FIELDS:
        return banner
    return b" ".join([*words[:3], b"real", *words[4:]]) + b"\n"


class _Prefixed(io.RawIOBase):
    """A binary stream of ``head`` followed by the rest of ``rest``."""

    def __init__(self, head: bytes, rest) -> None:
        super().__init__()
        self._head, self._rest = head, rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        view = memoryview(buffer).cast("B")
        if self._head:
            n = min(len(view), len(self._head))
            view[:n], self._head = self._head[:n], self._head[n:]
            return n
        data = self._rest.read(len(view))
        view[: len(data)] = data
        return len(data)
