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


def raw_counts_hint(n_genes: int) -> str:
    """The fix for counts kept in an AnnData's ``raw.X``, which no reader option reads (scanpy
    keeps the unfiltered, often only log-normalised, matrix there)."""
    return (
        f"raw.X (adata.raw, {n_genes} genes) is not read: if it holds the raw counts, "
        "save them as a layer (adata.layers['counts'] = adata.raw[:, adata.var_names].X; "
        "adata.write_h5ad(path)) and pass --layer counts (layer='counts' in Python)"
    )
