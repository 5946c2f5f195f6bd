"""Matrix Market reading across scipy versions.

scipy 1.18 (met on a lent GPU machine) warns on every ``mmread`` call that leaves
``spmatrix`` unset that its default will change to sparse arrays; the warning became a second
line of a CLI error meant to be one line. The reader asks for sparse matrices explicitly."""

from __future__ import annotations

import warnings

import scipy.io
import scipy.sparse as sp

from biovae.data.mtx import read_mtx

_MTX = "%%MatrixMarket matrix coordinate integer general\n2 3 2\n1 1 4\n2 3 7\n"


def test_the_reader_names_its_sparse_kind_and_so_draws_no_warning(tmp_path, monkeypatch):
    real = scipy.io.mmread

    def mmread_118(source, *, spmatrix=None):  # scipy 1.18's signature and warning
        if spmatrix is None:
            warnings.warn("`spmatrix` default is changing", FutureWarning, stacklevel=2)
            spmatrix = True
        return real(source, spmatrix=spmatrix) if _has_flag(real) else real(source)

    monkeypatch.setattr(scipy.io, "mmread", mmread_118)
    path = tmp_path / "m.mtx"
    path.write_text(_MTX)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        m = read_mtx(path)
    assert sp.issparse(m) and m.toarray().tolist() == [[4, 0, 0], [0, 0, 7]]


def _has_flag(fn) -> bool:
    import inspect

    return "spmatrix" in inspect.signature(fn).parameters
