"""How the confounding audit reads a covariate column: its missing values, and whether it is
audited as levels (classification) or as a number (regression).

A column is categorical when it holds text, or numbers with few distinct values (at most
``min(MAX_LEVELS, max(2, records // 10))``, :func:`is_categorical_column`); a technical
covariate coded by whole numbers (:func:`looks_like_codes`) is categorical too. The user has
the last word either way: names given as categorical or as continuous are audited so
(:func:`audited_as`), e.g. an integer age of 1,000 records with 42 distinct values, which the
guess would read as 42 levels.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import numpy as np

from biovae.data._columns import NA_TOKENS
from biovae.errors import DataError
from biovae.levels import level_text

#: Covariates with at most this many levels (text, or few distinct numbers) are categorical.
MAX_LEVELS = 50
#: Spellings of a missing value (any case): the table readers' (``N/A``, ``null``, ``?`` ...)
#: and ``unknown``, ``<NA>``; not ``none``, a level (e.g. no antibiotics).
MISSING_SPELLINGS = frozenset({t.lower() for t in NA_TOKENS} - {"none"} | {"unknown", "<na>"})


def is_missing(values: np.ndarray) -> np.ndarray:
    """Mask of missing entries: NaN or None, and the text of :data:`MISSING_SPELLINGS` ("",
    "NA", "N/A", "NaN", "null", "?", "unknown", "<NA>"; any case, around spaces)."""
    v = np.asarray(values)
    if v.dtype.kind in "iufb":
        return ~np.isfinite(v.astype(np.float64))
    text = np.char.lower(np.asarray([s.strip() for s in level_text(v)], dtype=str))
    return np.isin(text, sorted(MISSING_SPELLINGS))


def as_numbers(values: Any) -> np.ndarray:
    """``values`` as float64 (NaN = missing) when it holds numbers apart from its missing
    entries: numbers beside ``"unknown"`` (a table reader keeps such a column as text) or in
    an object array (pandas' nullable ``Int64`` with ``pd.NA``); otherwise unchanged. Text
    with nothing missing stays text (plate ``"01"`` is a level, not the number 1)."""
    v = np.asarray(values)
    if v.dtype.kind in "iufb":
        return v
    missing = is_missing(v)
    items = v[~missing]
    texts = any(isinstance(item, str) for item in items)
    if not items.size or (texts and not missing.any()):
        return v
    if any(isinstance(item, (bool, np.bool_)) for item in items):
        return v
    try:
        numbers = np.asarray([float(item) for item in items], dtype=np.float64)
    except (TypeError, ValueError):
        return v
    out = np.full(v.shape, np.nan)
    out[~missing] = numbers
    return out


def is_categorical_column(values: np.ndarray) -> bool:
    """Text columns, and numeric columns with few distinct values, are categorical."""
    v = np.asarray(values)
    if v.dtype.kind not in "iufb":
        return True
    finite = v[np.isfinite(v.astype(np.float64))]
    return len(np.unique(finite)) <= min(MAX_LEVELS, max(2, len(finite) // 10))


def looks_like_codes(values: np.ndarray) -> bool:
    """Whole numbers that repeat as codes of levels do (batch 0..11), as a technical covariate
    given as numbers usually is: at most ``MAX_LEVELS`` distinct values, at most half as many
    as records, and at most a tenth of the records holding a value seen once — not a
    measurement such as a read depth, a gene count (thousands of values in a large data set)
    or a spike-in count (half of a small data set's values seen once)."""
    v = np.asarray(values)
    if v.dtype.kind not in "iufb":
        return False
    finite = v[np.isfinite(v.astype(np.float64))].astype(np.float64)
    if not finite.size or not np.all(finite == np.round(finite)):
        return False
    counts = np.unique(finite, return_counts=True)[1]
    few = len(counts) <= min(MAX_LEVELS, finite.size / 2)
    return few and (counts == 1).sum() <= finite.size / 10


def audited_as(
    name: str,
    values: np.ndarray,
    technical: Collection[str],
    categorical: Collection[str],
    continuous: Collection[str],
) -> bool | None:
    """True: audit ``name`` as levels, False: as a number, None: guess from its values
    (:func:`is_categorical_column`). Names in ``categorical`` / ``continuous`` are audited so;
    a technical covariate coded by whole numbers is levels unless named continuous."""
    if name in continuous:
        return False
    if name in categorical or (name in technical and looks_like_codes(values)):
        return True
    return None


def check_numbers(values: np.ndarray, name: str = "") -> None:
    """A covariate to be audited as a number must hold numbers (apart from missing values)."""
    v = np.asarray(values)
    if v.dtype.kind not in "iufb":
        first = level_text(v[~is_missing(v)][:1])
        example = f" such as {str(first[0])!r}" if first.size else ""
        who = f"covariate {name!r} is" if name else "it is"
        raise DataError(
            f"{who} named continuous but holds text{example}, not numbers; audit it as levels "
            "(drop it from the continuous covariates)"
        )
