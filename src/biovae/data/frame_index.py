"""Which frames of an ensemble a key selects (``frames[key]``,
:meth:`~biovae.data.structure.Structures.__getitem__`): an integer, a slice, integer positions
or a boolean mask, as numpy indexes the first axis, each frame at most once. Imports nothing
from the model stack."""

from __future__ import annotations

import operator
from typing import Any

import numpy as np

#: what a key may be, said by every refusal
KEYS = "an integer, a slice, integer positions or a boolean mask of one value per frame"


def frame_positions(key: Any, n: int, source: str = "") -> np.ndarray:
    """The positions ``(m,)`` (int64, in ``[0, n)``, in the key's order) of the frames of an
    ensemble of ``n`` that ``key`` selects; negative positions count from the end.

    ``key`` may also be a tuple of one key and Ellipsis (``frames[idx, ...]``, as scikit-learn
    indexes an array's first axis). An IndexError names the key's fault: a position out of
    range, a mask of another length, a frame selected twice (each frame is one record, named
    by its frame id), or a key of another kind.
    """
    where = f"{source}: " if source else ""
    if isinstance(key, tuple):
        key = _frame_axis(key, where)
    if isinstance(key, slice):
        return np.arange(n, dtype=np.int64)[key]
    if _is_integer(key):
        return _in_range(np.asarray([operator.index(key)], dtype=np.int64), n, where)
    try:
        rows = np.asarray(key)
    except ValueError:  # a ragged list
        raise IndexError(
            f"{where}cannot select frames by a ragged {type(key).__name__}; give {KEYS}"
        ) from None
    if rows.dtype == bool:
        if rows.shape != (n,):
            raise IndexError(
                f"{where}a boolean mask of shape {rows.shape} for {n} frames; give one "
                "True/False per frame"
            )
        return np.flatnonzero(rows).astype(np.int64)
    if rows.size == 0 and rows.ndim == 1:  # [] or np.array([]): no frames
        return np.zeros(0, dtype=np.int64)
    if rows.ndim != 1 or not np.issubdtype(rows.dtype, np.integer):
        raise IndexError(f"{where}cannot select frames by {_shown(key, rows)}; give {KEYS}")
    rows = _in_range(rows.astype(np.int64), n, where)
    _, first, counts = np.unique(rows, return_index=True, return_counts=True)
    if (counts > 1).any():
        repeated = int(np.argmax(counts > 1))
        raise IndexError(
            f"{where}frame {int(rows[first[repeated]])} is selected {int(counts[repeated])} "
            "times; select each frame once (a frame is one record, named by its frame id)"
        )
    return rows


def _frame_axis(key: tuple, where: str) -> Any:
    """The key of the frame axis in ``(key,)`` or ``(key, ...)``: atoms and axes are kept whole."""
    if len(key) in (1, 2) and all(k is Ellipsis for k in key[1:]):
        return key[0]
    raise IndexError(
        f"{where}frames are selected along their first axis only (got a key of {len(key)} "
        f"parts); give {KEYS}"
    )


def _is_integer(key: Any) -> bool:
    """An integer (Python's or numpy's, a 0-d integer array), not a bool (a mask's value)."""
    if isinstance(key, (bool, np.bool_)):
        return False
    if isinstance(key, np.ndarray):
        return key.ndim == 0 and np.issubdtype(key.dtype, np.integer)
    return isinstance(key, (int, np.integer))


def _in_range(rows: np.ndarray, n: int, where: str) -> np.ndarray:
    """``rows`` with negative positions counted from the end; one out of range is refused."""
    bad = (rows < -n) | (rows >= n)
    if bad.any():
        first = int(rows[np.argmax(bad)])
        span = f"0 … {n - 1}, or -{n} … -1 from the end" if n else "none: there are no frames"
        raise IndexError(f"{where}frame {first} is out of range for {n} frames ({span})")
    return rows % max(n, 1)


def _shown(key: Any, rows: np.ndarray) -> str:
    """``key`` in a message: an array's or list's dtype and shape (not its values, which may be
    many), else its type and value."""
    if isinstance(key, (np.ndarray, list)):
        return f"{type(key).__name__} of {rows.dtype} values of shape {rows.shape}"
    return f"{type(key).__name__} {key!r}"
