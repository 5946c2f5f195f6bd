"""The root of a trajectory named by a record id or by a group of records (a metadata level)."""

from __future__ import annotations

from typing import Any

import numpy as np

from biovae.errors import DataError
from biovae.levels import MISSING, find_level, level_text


def root_index(ids: Any, root_id: Any) -> int:
    """The position of the record named ``root_id`` among ``ids`` (record ids, obs names),
    or a one-line error; a repeated id is refused, since it names no single cell."""
    text = np.asarray([str(v) for v in ids], dtype=object)
    hits = np.flatnonzero(text == str(root_id))
    if hits.size != 1:
        what = "no record" if hits.size == 0 else f"{hits.size} records"
        raise DataError(
            f"{what} with id {str(root_id)!r} (ids: {', '.join(text[:5])}, ...); give the id of "
            "one record as the root, or a group with root_key/root_value (--root-key/--root-value)"
        )
    return int(hits[0])


def root_mask(obs: dict[str, np.ndarray], key: str, value: Any) -> np.ndarray:
    """Records whose ``obs[key]`` is the level ``value`` names, or a one-line error.

    Levels are compared as :mod:`biovae.levels` spells them, so ``2``, ``2.0`` and ``"2.0"``
    all name the level ``2`` of an integer or float column."""
    if key not in obs:
        raise DataError(
            f"root key {key!r} is not a metadata column (columns: {', '.join(sorted(obs))})"
        )
    text = level_text(obs[key])
    present = tuple(sorted(set(text.tolist()) - {MISSING}))
    level = find_level(value, present)
    if level is None:
        levels = ", ".join(present[:10])
        raise DataError(
            f"no record has {key} = {value!r} (values: {levels}); fix root_value (--root-value)"
        )
    return text == level
