"""EVE's focus-column filter: match columns with too many gaps are not modelled.

EVE (Frazer et al. 2021, ``utils/data_utils.py``, ``threshold_focus_cols_frac_gaps = 0.3``)
drops a match column when the fraction of gaps in it, over the sequences that pass the
fragment filter, exceeds a threshold: such a column says little about the family, and a
model fitted on it mostly learns where the gaps are. Here the filter is an option
(``max_column_gaps``, ``--max-column-gaps``; default None keeps every column) applied after the
letter and sequence-gap filters, over the sequences kept (the focus included), so a column is
dropped when gaps / sequences > threshold. A mutation at a dropped column is reported with
:meth:`DroppedColumn.reason`, never silently left out. A model records the residue numbers of
the columns it kept (``positions``) and of those dropped (``dropped_columns`` in its
``metadata.json``; models saved before the option existed have none).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from biovae.errors import DataError, ModelFileError


@dataclass(frozen=True)
class DroppedColumn:
    """A match column left out of the model: its residue number, how many of the ``records``
    sequences have a gap there, and the threshold the fraction exceeded."""

    position: int
    gaps: int
    records: int
    threshold: float

    def reason(self) -> str:
        """Why a mutation at this column is not scored (the ``reason`` of its score row)."""
        return (
            f"column {self.position} dropped: {self.gaps / self.records:.1%} gaps "
            f"({self.gaps} of {self.records} sequences) > {self.threshold:g} "
            "(--max-column-gaps); the model does not score it"
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "position": self.position,
            "gaps": self.gaps,
            "records": self.records,
            "threshold": self.threshold,
        }


def check_threshold(threshold: float | None) -> None:
    """None (no filter) or a fraction in [0, 1] (EVE's range)."""
    if threshold is not None and not 0.0 <= threshold <= 1.0:
        raise DataError(f"max_column_gaps must be in [0, 1] (EVE uses 0.3), not {threshold}")


def gappy_columns(
    codes: np.ndarray, gap: int, positions: tuple[int, ...], threshold: float | None
) -> tuple[np.ndarray, tuple[DroppedColumn, ...]]:
    """Which match columns of ``codes`` (n, L) to keep (bool, L) and the dropped ones.

    A column is dropped when its gaps / n exceeds ``threshold``, as EVE computes it (a column
    exactly at the threshold stays: 3 / 10 is the same float as 0.3); None keeps every column.
    """
    keep = np.ones(codes.shape[1], dtype=bool)
    if threshold is None:
        return keep, ()
    gaps = (np.asarray(codes) == gap).sum(axis=0)
    keep = gaps / len(codes) <= threshold
    dropped = tuple(
        DroppedColumn(positions[c], int(gaps[c]), len(codes), float(threshold))
        for c in np.flatnonzero(~keep)
    )
    return keep, dropped


def from_metadata(path: Path, value: Any) -> tuple[DroppedColumn, ...]:
    """The dropped columns saved in a model's ``metadata.json`` (``path``); none for a model
    saved before they were kept (``value`` None). A damaged entry is a one-line error."""
    if value is None:
        return ()
    try:
        out = tuple(_one(v) for v in value)
    except (TypeError, KeyError, ValueError):
        raise ModelFileError(
            f"{path}: the 'dropped_columns' entry is damaged ({value!r:.60}); refit the model "
            "or restore its folder"
        ) from None
    return out


def _one(entry: Any) -> DroppedColumn:
    keys = ("position", "gaps", "records", "threshold")
    if not isinstance(entry, dict) or set(entry) != set(keys):
        raise ValueError(entry)
    whole = [entry[k] for k in keys[:3]]
    if not all(type(v) is int for v in whole) or not 0 <= whole[1] <= whole[2] > 0:
        raise ValueError(entry)
    threshold = entry["threshold"]
    if type(threshold) not in (int, float) or not 0 <= threshold <= 1:
        raise ValueError(entry)
    return DroppedColumn(*whole, float(threshold))
