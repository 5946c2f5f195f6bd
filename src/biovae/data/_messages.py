"""Small helpers shared by the readers to phrase one-line error messages."""

from __future__ import annotations

from collections.abc import Iterable


def preview(names: Iterable[object], limit: int = 10) -> str:
    """Quote the first ``limit`` names and say how many more there are.

    Parameters
    ----------
    names
        Column names, layer names, record ids, ...
    limit
        How many names to show before truncating.

    Returns
    -------
    str
        E.g. ``"'a', 'b', 'c' (+12 more)"``, or ``"(none)"`` when empty.
    """
    items = [str(n) for n in names]
    if not items:
        return "(none)"
    shown = ", ".join(repr(n) for n in items[:limit])
    extra = len(items) - limit
    return f"{shown} (+{extra} more)" if extra > 0 else shown
