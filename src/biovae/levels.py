"""One spelling per level of a categorical column, whatever type the column arrives in.

A batch coded 0/1 reads as integers from an AnnData, as floats (``0.0``) from a table whose
column has a missing value or from our own readers, and as text from a user's list; a flag
reads as booleans or as text. Covariate levels, labels and the groups of differential
expression all compare :func:`level_text`, so each of these spells a level one way: integral
numbers without a decimal point (``1.0`` → ``"1"``), booleans as ``"True"``/``"False"``, and
every missing value (None, NaN, pandas' NA, the empty string) as ``""``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

MISSING = ""


def level_text(values: Any) -> np.ndarray:
    """Object array of level spellings of ``values`` (``""`` = missing)."""
    return np.array([_text(v) for v in np.asarray(values, dtype=object).ravel()], dtype=object)


def _text(value: Any) -> str:
    if value is None or type(value).__name__ == "NAType":
        return MISSING
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (float, np.floating)):
        if math.isnan(value):
            return MISSING
        if float(value).is_integer():
            return str(int(value))
    if isinstance(value, np.integer):
        return str(int(value))
    return str(value)


def aliases(levels: tuple[str, ...]) -> dict[str, int]:
    """Index of ``levels`` by spelling, where a level saved as ``"1.0"`` (models saved by
    earlier versions spelled integral numbers so) is also found as ``"1"``."""
    index = {lv: i for i, lv in enumerate(levels)}
    for i, lv in enumerate(levels):
        head, dot, tail = lv.partition(".")
        if dot and tail == "0" and head.lstrip("-").isdigit():
            index.setdefault(head, i)
    if set(levels) <= {"0.0", "1.0"}:  # earlier versions read booleans as 0.0 / 1.0
        index.update({"False": index["0.0"]} if "0.0" in index else {})
        index.update({"True": index["1.0"]} if "1.0" in index else {})
    return index


def find_level(value: Any, levels: tuple[str, ...]) -> str | None:
    """The level of ``levels`` a user's ``value`` names (``1``, ``1.0`` and ``"1.0"`` name level
    ``"1"``), or None."""
    text = _text(value)
    index = aliases(levels)
    if text not in index:
        text = whole_number_text(text)
    return levels[index[text]] if text in index else None


def whole_number_text(text: str) -> str:
    """``"-1.0"`` → ``"-1"``: a whole number written with a decimal point, as a level spells
    it; any other text unchanged."""
    head, dot, tail = text.partition(".")
    if dot and tail.strip("0") == "" and head.lstrip("-").isdigit():
        return head
    return text


def one_spelling_clash(
    levels: tuple[str, ...], new: tuple[str, ...] = ()
) -> tuple[str, str] | None:
    """Two of ``levels`` that differ only in letter case or surrounding spaces ("T cell",
    "t cell "), almost always one level typed twice, or None. With ``new`` only pairs
    involving a level of ``new`` count (levels an earlier fit already accepted stand)."""
    seen: dict[str, str] = {}
    for level in (*[lv for lv in levels if lv not in new], *new):
        other = seen.setdefault(level.strip().casefold(), level)
        if other != level and (not new or level in new):
            return other, level
    return None


def natural_order(levels: Any) -> tuple[str, ...]:
    """Level spellings in the order a person reads them: numbers by value (cluster "2" before
    "10", as scanpy's categories are), then text alphabetically."""

    def key(text: str) -> tuple[int, float, str]:
        number = _number(text)
        return (1, 0.0, text) if number is None else (0, number, text)

    return tuple(sorted(levels, key=key))


def class_order(levels: Any, declared: tuple[str, ...] = ()) -> tuple[str, ...]:
    """The order a new fit gives the classes ``levels`` (spellings of the labels seen): the
    order a categorical column ``declared`` (pandas' categories, an R factor's levels, as
    scanpy plots them), the levels it lacks after, in the order below; else numbers by value
    when every level is one (clusters 0, 1, 2, …, 10, as a pandas Categorical of integers
    orders them); else text sorted (mixed text and numbers too)."""
    levels = set(levels)
    first = tuple(dict.fromkeys(lv for lv in declared if lv in levels))
    rest = levels - set(first)
    if all(_number(lv) is not None for lv in rest):
        return first + natural_order(rest)
    return first + tuple(sorted(rest))


def _number(text: str) -> float | None:
    """The finite number ``text`` spells ("2", "1.5", "-1"), or None (text, "inf", "nan")."""
    try:
        number = float(text)
    except ValueError:
        return None
    return number if math.isfinite(number) else None
