"""How to fix record ids that a metadata table joined on record id lacks (``join_obs``)."""

from __future__ import annotations

import numpy as np

from biovae.data._columns import NUMBER, TAXON


def id_mismatch_fix(
    missing: list[str],
    ids: np.ndarray,
    columns: dict[str, np.ndarray],
    id_column: str | None = None,
) -> str:
    """How to fix ids missing from a metadata table, whose ids are ``ids`` (read from
    ``id_column``, or its first column) and other columns ``columns``.

    Named, since the join is exact: records named like taxa (a taxa x samples table read as
    samples x taxa, or the other way round); another column that holds the missing ids (the table's
    ids are not in its first column, as in curatedMetagenomicData's sample metadata, whose
    ``sample_id`` follows ``study_name``); ids that differ from a row's only in case or
    surrounding spaces (``S1`` / ``s1 ``); ids that are the same number written otherwise
    (``001`` / ``1`` / ``1.0``, as a spreadsheet rewrites them).
    """
    if 2 * sum(bool(TAXON.match(rid)) for rid in missing[:1000]) > len(missing[:1000]):
        return (
            f"the records are named like taxa (e.g. '{missing[0]}'), so the table was read the "
            "wrong way round: pass --transpose (transpose=True) for a table with the taxa as "
            "rows, --no-transpose for one with the taxa as columns"
        )
    other = _column_holding(missing, columns)
    if other is not None:
        read_from = f"column '{id_column}'" if id_column else "first column"
        return (
            f"the records' ids are in the table's column '{other}', but ids are read from its "
            f"{read_from}; pass --obs-id-column {other} (in Python: "
            f"read_dataset(..., obs_id_column='{other}'))"
        )
    rows = {str(rid).strip().casefold(): rid for rid in ids}
    numbers = {key: rid for rid in ids if (key := _as_number(rid)) is not None}
    for rid in missing:
        near = rows.get(rid.strip().casefold())
        if near is not None:
            return (
                f"record '{rid}' and the table's '{near}' differ only in case or surrounding "
                "spaces, and ids must match exactly; write them the same way in both files"
            )
    for rid in missing:
        near = numbers.get(_as_number(rid))
        if near is not None:
            return (
                f"record '{rid}' and the table's '{near}' are the same number written "
                "differently (leading zeros, decimals), and ids must match exactly; write them "
                "the same way in both files (keep the table's id column as text)"
            )
    return (
        "add rows for them, or name the table's column holding the record ids with "
        "--obs-id-column (obs_id_column)"
    )


def _column_holding(missing: list[str], columns: dict[str, np.ndarray]) -> str | None:
    """The text column holding the most of the ``missing`` ids, if it holds over half."""
    best, most = None, len(missing) // 2
    for name, values in columns.items():
        if values.dtype != object:  # numbers: a column of ids is read as text
            continue
        held = len(set(missing).intersection(values.tolist()))
        if held > most:
            best, most = name, held
    return best


def _as_number(rid: object) -> float | None:
    """The value of an id written as a finite decimal number, else ``None``."""
    text = str(rid).strip()
    if not NUMBER.fullmatch(text):
        return None
    return float(text)
