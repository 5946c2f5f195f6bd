"""Atomic output writers: a failed run never leaves a half-written file that looks valid."""

from __future__ import annotations

import contextlib
import gzip
import io
import json
import os
import re
import secrets
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO

import numpy as np
import pandas as pd

from biovae.data.folders import LEFTOVER_AGE
from biovae.data.sequences import decode
from biovae.errors import DataError


def temp_path(path: str | os.PathLike) -> Path:
    """A fresh hidden name next to ``path`` that keeps its extension (``.x.3f9a0b1c.tmp.tsv``)."""
    stem, suffix = _split(Path(path))
    return Path(path).with_name(f".{stem}.{secrets.token_hex(4)}.tmp{suffix}")


def _split(path: Path) -> tuple[str, str]:
    """``path``'s name as stem and extension (up to two suffixes: ``x``, ``.tsv.gz``)."""
    suffix = "".join(path.suffixes[-2:])
    return (path.name[: len(path.name) - len(suffix)] if suffix else path.name), suffix


def remove_stale_temps(path: Path) -> None:
    """Delete the temporary files that writes of ``path`` killed outright (``kill -9``, a crash)
    left beside it: plain files named as :func:`temp_path` names them, untouched for
    ``LEFTOVER_AGE`` seconds (a write still running in another process keeps its file fresh)."""
    stem, suffix = _split(path)
    pattern = re.compile(re.escape(f".{stem}.") + "[0-9a-f]{8}" + re.escape(f".tmp{suffix}"))
    now = time.time()
    with contextlib.suppress(OSError):  # an unreadable folder: nothing to clean
        for leftover in path.parent.iterdir():
            if not pattern.fullmatch(leftover.name) or leftover.is_symlink():
                continue
            with contextlib.suppress(OSError):
                if leftover.is_file() and now - leftover.stat().st_mtime > LEFTOVER_AGE:
                    leftover.unlink()


def atomic_write(path: str | os.PathLike, write_fn: Callable[[Path], object]) -> Path:
    """Write a file through ``write_fn(temp_path)`` and move it to ``path`` only on success.

    The temporary file lies in the same directory (so the final ``os.replace`` is atomic)
    and keeps the extension of ``path`` (some writers, e.g. ``numpy.save``, look at it). If
    ``write_fn`` raises, the temporary file is removed and an existing ``path`` is untouched.

    Parameters
    ----------
    path
        Final location (a link: the file it points to is written, the link kept); missing
        parent folders are created.
    write_fn
        Writes the complete file at the path it is given.

    Returns
    -------
    Path
        ``path``.
    """
    target = _file_target(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(target)
    tmp = temp_path(target)
    try:
        write_fn(tmp)
        if not tmp.is_file():
            raise DataError(f"{path}: the writer produced no file; nothing was written")
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    return Path(path)


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "w") -> Iterator[IO]:
    """Context manager: an open file that replaces ``path`` when the block ends without error.

    ``.gz`` paths are gzip-compressed (reproducibly: no name or time stamp in the header).
    ``mode`` is ``"w"`` (text, UTF-8, ``\\n`` line ends) or ``"wb"``.
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"mode must be 'w' or 'wb', got {mode!r}")
    path = Path(path)
    with _TempTarget(path) as tmp, open(tmp, "xb") as raw:
        binary: IO[bytes] = raw
        if path.suffix.lower() == ".gz":
            binary = gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0)
        handle = binary if mode == "wb" else io.TextIOWrapper(binary, "utf-8", newline="\n")
        try:
            yield handle
        finally:
            handle.flush()
            if isinstance(handle, io.TextIOWrapper):
                handle.detach()  # keep the wrapper from closing ``binary`` a second time
            if binary is not raw:
                binary.close()
            raw.flush()
            os.fsync(raw.fileno())


def write_json(path: str | os.PathLike, obj: object) -> Path:
    """Write ``obj`` as indented JSON, atomically; see :func:`json_safe` for the conversion."""
    with atomic_open(path, "w") as fh:
        json.dump(json_safe(obj), fh, indent=2, allow_nan=False)
    return Path(path)


def json_safe(obj: object) -> object:
    """``obj`` with numpy (or torch) scalars and arrays turned into Python numbers and lists,
    and NaN or infinite numbers (an undefined standard error, say) into ``None``: strict JSON
    has no NaN."""
    if isinstance(obj, Mapping):
        return {str(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, np.ndarray)):
        return [json_safe(v) for v in obj]
    if isinstance(obj, np.generic) or hasattr(obj, "tolist"):  # numpy or torch values
        return json_safe(obj.tolist())
    if isinstance(obj, float) and not np.isfinite(obj):
        return None
    return obj


def _file_target(path: str | os.PathLike) -> Path:
    """The file to replace for ``path``: ``path`` itself, or the file a link at ``path`` points
    to (written, the link kept, as for folders: :func:`biovae.data.folders.write_dir`; renamed
    over, the link would be lost and its file left stale); refused when it is an existing
    folder (a file cannot replace it)."""
    path = Path(path)
    if path.is_dir():
        raise DataError(f"cannot write {path}: it is an existing folder; give a file name")
    return path.resolve() if path.is_symlink() else path


class _TempTarget:
    """Yields a temp path; on clean exit renames it onto the target; the temp file is removed
    whenever it is left over (the block failed, or the rename did)."""

    def __init__(self, path: Path) -> None:
        self.path = _file_target(path)
        self.tmp = temp_path(self.path)

    def __enter__(self) -> Path:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_temps(self.path)
        return self.tmp

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            if exc_type is None:
                os.replace(self.tmp, self.path)
        finally:
            with contextlib.suppress(FileNotFoundError):
                self.tmp.unlink()


def write_table(
    path: str | os.PathLike,
    ids: Sequence[str],
    columns: Mapping[str, np.ndarray],
    id_name: str = "id",
) -> Path:
    """Write one row per record: the id, then the given columns (CSV for ``.csv``, else TSV).

    A 2-D column ``(n, k)`` is written as ``name_1 .. name_k``. Floats use the shortest text
    that reads back to the same value; NaN is an empty field. ``.gz`` paths are compressed.

    Parameters
    ----------
    path
        Output file (``.csv``, ``.csv.gz``, ``.tsv``, ``.tsv.gz``, ...).
    ids
        Record ids (first column).
    columns
        Column name -> values of length ``n`` (1-D) or ``(n, k)`` (2-D).
    id_name
        Header of the id column.
    """
    frame = pd.DataFrame({id_name: np.asarray(ids, dtype=object)})
    pieces = [frame]
    for name, values in columns.items():
        pieces.append(_column_frame(name, np.asarray(values), len(frame)))
    # one block per dtype: a frame of thousands of one-column blocks (a sample of every gene)
    # takes to_csv 10 s per 100 rows of 15,000 columns, the consolidated one 1 s
    table = pd.concat(pieces, axis=1).copy()
    if len(set(table.columns)) != table.shape[1]:
        raise ValueError(f"duplicate output column names in {list(table.columns)}")
    with atomic_open(path, "w") as fh:
        table.to_csv(fh, sep=_separator(path), index=False, na_rep="", lineterminator="\n")
    return Path(path)


def write_frame(path: str | os.PathLike, frame: pd.DataFrame) -> Path:
    """Write a DataFrame, its index as the first column (CSV for ``.csv``, else TSV), floats
    with 6 significant digits, atomically."""
    with atomic_open(path, "w") as fh:
        frame.to_csv(fh, sep=_separator(path), float_format="%.6g", lineterminator="\n")
    return Path(path)


def _separator(path: str | os.PathLike) -> str:
    return "," if Path(path).name.lower().removesuffix(".gz").endswith(".csv") else "\t"


def _column_frame(name: str, values: np.ndarray, n: int) -> pd.DataFrame:
    """A 1-D column, or a 2-D array spread over ``name_1 .. name_k``."""
    if values.ndim not in (1, 2) or values.shape[0] != n:
        raise ValueError(f"column '{name}' has shape {values.shape}; expected ({n},) or ({n}, k)")
    if values.ndim == 1:
        return pd.DataFrame({name: values})
    names = [f"{name}_{j + 1}" for j in range(values.shape[1])]
    return pd.DataFrame(values, columns=names)


def write_fasta(
    path: str | os.PathLike,
    ids: Sequence[str],
    sequences: Sequence[str] | np.ndarray,
    *,
    alphabet: str | None = None,
    descriptions: Sequence[str] | None = None,
    line_width: int | None = 80,
) -> Path:
    """Write records as FASTA.

    Parameters
    ----------
    path
        Output file (``.gz`` is compressed).
    ids
        Record ids (must not contain whitespace).
    sequences
        Strings, or a ``(n, L)`` integer code array together with ``alphabet``.
    alphabet
        Letters indexed by the codes (required for code arrays).
    descriptions
        Optional text after the id on each header line.
    line_width
        Wrap sequence lines at this width; ``None`` writes each sequence on one line.
    """
    seqs = _as_strings(sequences, alphabet)
    if len(seqs) != len(ids):
        raise ValueError(f"{len(ids)} ids for {len(seqs)} sequences")
    for rid in ids:
        if not str(rid) or any(c.isspace() for c in str(rid)):
            raise ValueError(f"FASTA record id {rid!r} is empty or contains whitespace")
    descs = [""] * len(seqs) if descriptions is None else [str(d) for d in descriptions]
    with atomic_open(path, "w") as fh:
        for rid, desc, seq in zip(ids, descs, seqs):
            fh.write(f">{rid} {desc}\n" if desc else f">{rid}\n")
            step = line_width or max(len(seq), 1)
            for start in range(0, len(seq), step):
                fh.write(seq[start : start + step] + "\n")
    return Path(path)


def _as_strings(seqs: Sequence[str] | np.ndarray, alphabet: str | None) -> list[str]:
    """Sequences as strings; integer code arrays are decoded with ``alphabet``."""
    if isinstance(seqs, np.ndarray) and np.issubdtype(seqs.dtype, np.integer):
        if alphabet is None:
            raise ValueError("pass alphabet= to write integer sequence codes")
        return decode(seqs, alphabet)
    return [str(s) for s in seqs]
