"""Damaged gzip files for the readers' tests: zlib raises ``zlib.error`` on them, no OSError."""

from __future__ import annotations

import gzip
import zlib

#: a gzip member whose deflate stream is damaged from its first block on (block type 3 does
#: not exist: "invalid block type")
DAMAGED_MEMBER = bytes.fromhex("1f8b08000000000000ff") + b"\x07" + bytes(16)

#: where :func:`damaged_gzip` damages the stream
WHERE = ("header", "middle")


def damaged_gzip(data: bytes, where: str) -> bytes:
    """A gzip file that zlib refuses: damaged at its first deflate block (``"header"``), or
    ``data`` gzipped with one byte flipped inside its deflate stream (``"middle"``: "invalid
    distance too far back", "invalid code lengths set", ...), the byte nearest the middle of
    the stream whose flip zlib detects (most flips are caught by the CRC only)."""
    if where == "header":
        return DAMAGED_MEMBER
    packed = gzip.compress(data, mtime=0)
    inside = range(10, len(packed) - 8)  # past the gzip header, before the CRC and size
    for at in sorted(inside, key=lambda at: abs(at - len(packed) // 2)):
        damaged = bytearray(packed)
        damaged[at] ^= 0xFF
        try:
            gzip.decompress(bytes(damaged))
        except zlib.error:
            return bytes(damaged)
        except (OSError, EOFError):  # a flip zlib lets through, caught by the CRC
            continue
    raise AssertionError("no flipped byte made a deflate stream that zlib refuses")
