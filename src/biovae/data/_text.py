"""Text files as Windows, Excel and old Mac tools write them: the one home for what the text
readers accept — UTF-8, with or without a byte-order mark (Excel's 'CSV UTF-8' writes one),
lines ended by LF, CRLF (Windows) or CR (classic Mac OS) — and for the one-line error for
other encodings: UTF-16 (Excel's 'Unicode Text', Windows PowerShell) and 8-bit text such as
Latin-1 / Windows-1252, which are refused rather than guessed at."""

from __future__ import annotations

import codecs
import contextlib
import gzip
import os
import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

from biovae.data._messages import UNREADABLE, unreadable
from biovae.errors import DataError

#: how the readers decode text: UTF-8, a leading byte-order mark dropped
ENCODING = "utf-8-sig"

_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


def gzipped(path: str | Path) -> bool:
    """Whether the file starts with the gzip magic bytes ('.gz' is sometimes left off)."""
    with open(path, "rb") as fh:
        return fh.read(2) == b"\x1f\x8b"


def head_bytes(path: str | Path, size: int = 1 << 16) -> bytes:
    """The first ``size`` bytes of the file, gunzipped when it is gzip-compressed; ``b""``
    when it cannot be read (the reader then says why)."""
    with contextlib.suppress(*UNREADABLE), _open_bytes(path) as fh:
        return fh.read(size)
    return b""


def _open_bytes(path: str | Path) -> BinaryIO:
    """The file's bytes, gunzipped when it is gzip-compressed."""
    return gzip.open(path, "rb") if gzipped(path) else open(path, "rb")


def is_utf16(head: bytes) -> bool:
    """Whether ``head`` is UTF-16 text with a byte-order mark: it decodes as such, and most of
    it is ASCII (a binary file may start with the same two bytes)."""
    if not head.startswith(_UTF16_BOMS):
        return False
    text = head[: len(head) // 2 * 2].decode("utf-16", errors="replace")
    return bool(text) and sum(c.isascii() for c in text) >= 0.9 * len(text)


def not_utf8_reason(path: str | Path, what: str = "it", line: int | None = None) -> str:
    """Why ``path`` is no UTF-8 text and how to fix it, for a message starting with the
    file: ``UTF-16 text ..., not UTF-8; save it as UTF-8 (...)`` or ``not UTF-8 text (line N);
    save it as UTF-8 (...)``; ``what`` names the file in the fix (``"the table"``), ``line``
    the line that is not UTF-8, when the reader knows it (else the file is searched)."""
    if is_utf16(head_bytes(path, 4096)):
        return (
            "UTF-16 text (as Excel's 'Unicode Text' and Windows PowerShell write), not UTF-8; "
            f"save {what} as UTF-8 (Excel: 'CSV UTF-8'; or iconv -f UTF-16 -t UTF-8)"
        )
    line = line or _first_undecodable_line(path)
    where = f" (line {line})" if line else ""
    return (
        f"not UTF-8 text{where}; save {what} as UTF-8 (Latin-1 / Windows-1252 text: "
        "iconv -f WINDOWS-1252 -t UTF-8)"
    )


def not_utf8(
    path: str | Path, what: str = "it", fix: str = "", line: int | None = None
) -> DataError:
    """The one-line error for a file that is not UTF-8 text (:func:`not_utf8_reason`),
    ending in ``fix``."""
    return DataError(f"{path}: {not_utf8_reason(path, what, line)}{fix}")


def check_not_empty(path: str | Path) -> None:
    """Raise a one-line error for a file of 0 bytes, for readers whose own message for one
    names no cause (MDAnalysis: 'Compressed file ended'; gemmi: a C++ range error)."""
    if Path(path).stat().st_size == 0:
        raise DataError(f"{path}: the file is empty (0 bytes); check the path")


def check_utf8(path: str | Path, what: str = "it", *, whole: bool = True) -> None:
    """Raise :func:`not_utf8` when ``path`` is UTF-16 text (as its head shows) or, with
    ``whole``, when a line of it is not UTF-8."""
    if is_utf16(head_bytes(path, 4096)) or (whole and _first_undecodable_line(path)):
        raise not_utf8(path, what)


def _first_undecodable_line(path: str | Path) -> int | None:
    """The first line (from 1) of the file that is not UTF-8, or None."""
    with contextlib.suppress(*UNREADABLE), _open_bytes(path) as fh:
        for number, raw in enumerate(fh, 1):  # no UTF-8 character holds a newline byte
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError:
                return number
    return None


def read_text(path: str | Path, what: str = "the file", fix: str = "") -> str:
    """The whole file as text (``.gz`` decompressed, recognised by its magic bytes), a
    byte-order mark dropped; one-line errors for another encoding or a damaged file."""
    try:
        if gzipped(path):
            with gzip.open(path, "rt", encoding=ENCODING) as fh:
                return fh.read()
        return Path(path).read_text(encoding=ENCODING)
    except UnicodeDecodeError as exc:
        raise not_utf8(path, what, fix) from exc
    except UNREADABLE as exc:  # zlib.error too: a damaged deflate stream is no OSError
        raise unreadable(path, exc, what) from exc


def byte_lines(lines: Iterable[bytes]) -> Iterator[bytes]:
    """The lines of a file read as bytes (``for line in fh``), its byte-order mark dropped
    and, when the file ends its lines with CR alone (classic Mac OS; read as bytes it is one
    line), split there; LF and CRLF lines are passed on as they are."""
    lines = iter(lines)
    first = next(lines, None)
    if first is None:
        return
    first = first.removeprefix(codecs.BOM_UTF8)
    if b"\r" in first.rstrip(b"\r\n"):  # a CR inside the first 'line': CR line ends
        yield from (first + b"".join(lines)).splitlines(keepends=True)
        return
    yield first
    yield from lines


def check_line_ends(path: str | Path, what: str) -> None:
    """A one-line error for a text file that a third-party parser would misread: UTF-16, or
    lines ended by CR alone (classic Mac OS)."""
    head = head_bytes(path)
    if is_utf16(head):
        raise not_utf8(path, what)
    if b"\r" in head and b"\n" not in head:
        raise DataError(
            f"{path}: the lines of {what} end in CR alone (classic Mac OS line ends); save it "
            "with LF or CRLF line ends (e.g. tr '\\r' '\\n' < FILE > NEW)"
        )


def without_bom(path: str | Path, folder: str | Path) -> Path:
    """``path``, or, when its text starts with a UTF-8 byte-order mark (Windows Notepad and
    Excel write one), a copy without it under the same name (gunzipped, less ``.gz``) in
    ``folder``, written atomically: for third-party parsers that read the mark as part of the
    first line (MDAnalysis's PSF and PRMTOP readers then find no header)."""
    if not head_bytes(path, len(codecs.BOM_UTF8)).startswith(codecs.BOM_UTF8):
        return Path(path)
    out = Path(folder) / (Path(path).name.removesuffix(".gz") if gzipped(path) else Path(path).name)
    out.parent.mkdir(parents=True, exist_ok=True)
    part = out.with_name(out.name + ".part")
    with _open_bytes(path) as src, open(part, "wb") as dst:
        src.read(len(codecs.BOM_UTF8))
        shutil.copyfileobj(src, dst)
    os.replace(part, out)
    return out
