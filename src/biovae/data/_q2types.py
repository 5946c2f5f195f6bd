"""QIIME 2 metadata's ``#q2:types`` directive: the row, second in the file, whose id is
``#q2:types`` and whose fields type each column ``categorical`` or ``numeric`` (either case;
an empty field leaves the column's type to be inferred from its values, as QIIME 2 does).

A ``categorical`` column is text as written, its values categories even where they look like
numbers (subject ids ``1, 2, 3``, batch numbers); a ``numeric`` one holds numbers only (or
missing values), any other value a one-line error. Tables without the row are read as before.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from biovae.data._columns import NA_TOKENS, as_text, numeric_or_none, text_table_obs
from biovae.errors import DataError

DIRECTIVE = "#q2:types"
KINDS = ("categorical", "numeric")


def q2_types(frame: pd.DataFrame, id_column: str | None, source: str) -> dict[str, str]:
    """The type the ``#q2:types`` row of ``frame`` (a metadata table read with its comment
    rows) gives each column: ``{column: "categorical" | "numeric"}``, empty without the row;
    a type other than these two is a one-line error naming the file, column and value."""
    if id_column is None:
        return {}
    ids = frame[id_column].fillna("").astype(str).str.strip()
    rows = frame.index[(ids == DIRECTIVE).to_numpy()]
    if not len(rows):
        return {}
    types = {}
    for name, value in frame.loc[rows[0]].items():
        kind = "" if pd.isna(value) else str(value).strip().lower()
        if name == id_column or not kind:
            continue
        if kind not in KINDS:
            raise DataError(
                f"{source}: the {DIRECTIVE} line types column '{name}' as {value!r}; QIIME 2 "
                "column types are 'categorical' or 'numeric' (or empty to infer it)"
            )
        types[str(name)] = kind
    return types


def typed_obs(
    col: pd.Series, kind: str | None, source: str, line: Callable[[int], int]
) -> np.ndarray:
    """The obs array of metadata column ``col`` (comment rows left out) of type ``kind``
    (``None``: inferred from its values, :func:`text_table_obs`); ``line`` gives the file line
    of a row (its index) for the error of a ``numeric`` column holding something else."""
    if kind is None:
        return text_table_obs(col)
    if kind == "categorical":
        return as_text(col)  # as written: "007" and "1" stay text, never the numbers 7 and 1
    parsed = numeric_or_none(col)
    if parsed is not None:
        return parsed.to_numpy(dtype=np.float64)
    text = col.astype(object).where(~col.isin(list(NA_TOKENS)), None).dropna()
    bad = text[pd.to_numeric(text, errors="coerce").isna()]
    if not len(bad):  # nothing but missing values: numbers, all missing
        return np.full(len(col), np.nan)
    raise DataError(
        f"{source}: column '{col.name}' is typed numeric by the {DIRECTIVE} line but holds "
        f"{str(bad.iloc[0])!r} (line {line(int(bad.index[0]))}); correct the value, leave it "
        "empty if it is missing, or type the column categorical"
    )
