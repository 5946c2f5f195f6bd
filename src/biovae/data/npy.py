"""``.npy`` reader: a 2-D numeric array, records numbered ``"0".."n-1"``."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from biovae.data._columns import check_finite
from biovae.data.dataset import Dataset
from biovae.data.ondisk import WHOLE, NpyReader, RowStore
from biovae.errors import DataError


def read_npy(path: str | Path, *, stream: bool = False, allow_missing: bool = False) -> Dataset:
    """Read a 2-D numeric ``.npy`` array (records x features) as float32.

    Ids are ``"0".."n-1"`` and feature names ``"0".."f-1"``; pickled (object) arrays are refused.
    With ``stream`` the array stays on disk (a read-only memory map read in blocks); it must be
    stored in row order (C order, numpy's default): a Fortran-ordered array is refused. With
    ``allow_missing`` NaN entries are missing values (genotypes), else an error.
    """
    source = str(path)
    try:
        array = np.load(path, allow_pickle=False, mmap_mode="r" if stream else None)
    except (ValueError, OSError, EOFError) as exc:
        raise DataError(
            f"{source}: not a readable numeric .npy array ({exc}); save it with "
            "numpy.save(path, array) from a numeric array (object arrays are not supported)"
        ) from exc
    if not isinstance(array, np.ndarray):
        raise DataError(f"{source}: expected a single .npy array, not an .npz archive")
    if array.ndim != 2:
        raise DataError(
            f"{source}: expected a 2-D array (records x features), got shape {array.shape}; "
            "reshape it before saving"
        )
    # numpy counts timedelta64 as a number (a signed integer); durations are no features
    if array.dtype.kind not in "biufc":
        raise DataError(
            f"{source}: expected a numeric array (bool, integer or float), got dtype "
            f"{array.dtype}; save the values as numbers (e.g. array.astype(float))"
        )
    if np.iscomplexobj(array):
        raise DataError(f"{source}: complex values are not supported; save the real part")
    n, f = array.shape
    if n == 0 or f == 0:
        raise DataError(f"{source}: the array is empty (shape {array.shape})")
    if stream and not array.flags.c_contiguous:  # numpy.save of a transposed array
        raise DataError(
            f"{source}: the array is stored column by column (Fortran order), so each record "
            "is spread over the whole file; streaming reads records, so save it row by row "
            "(numpy.save(path, numpy.ascontiguousarray(array))) or read it into memory "
            f"({WHOLE})"
        )
    if stream:
        x = RowStore(NpyReader(array), source)
    else:
        with np.errstate(over="ignore"):  # beyond float32 -> inf, reported below
            x = np.ascontiguousarray(array, dtype=np.float32)
    ids = np.array([str(i) for i in range(n)], dtype=object)
    features = tuple(str(j) for j in range(f))
    check_finite(x, ids, features, source, allow_missing=allow_missing)
    return Dataset(x=x, ids=ids, features=features, obs={}, source=source)
