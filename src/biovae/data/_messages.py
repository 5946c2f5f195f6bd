"""Small helpers shared by the readers to phrase one-line error messages."""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Iterable
from pathlib import Path

from biovae.errors import DataError

#: what reading a damaged file raises: an I/O error or a bad gzip header or CRC (OSError), a
#: stream cut short (EOFError), and a damaged deflate stream (zlib.error, which is no OSError)
UNREADABLE: tuple[type[Exception], ...] = (OSError, EOFError, zlib.error)


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


def unreadable(path: str | Path, exc: Exception, what: str = "the table") -> DataError:
    """The one-line error for a file that could not be read to its end (``exc``, one of
    :data:`UNREADABLE`): a damaged or cut-short ``.gz``, or a file the system will not read.
    ``what`` names the file's kind (``"the FASTA file"``)."""
    reason = (str(exc).strip().splitlines() or [type(exc).__name__])[-1]
    return DataError(
        f"{path}: could not read {what} ({reason}); check the file (a .gz file: test it "
        "with gzip -t, and replace it if it is damaged or cut short)"
    )


def check_gzip(path: str | Path, what: str) -> None:
    """Raise :func:`unreadable` when ``path`` is gzip-compressed (by its magic bytes) and does
    not decompress to its end. For readers that decompress a file themselves (gemmi,
    biom-format, MDAnalysis, scipy) and, on a damaged stream, fail with an error that does not
    say so (or with ``zlib.error``): call it when such a reader fails."""
    try:
        with open(path, "rb") as fh:
            if fh.read(2) != b"\x1f\x8b":
                return
        with gzip.open(path, "rb") as fh:
            while fh.read(1 << 20):
                pass
    except UNREADABLE as exc:
        raise unreadable(path, exc, what) from exc
