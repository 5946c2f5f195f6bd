"""Whether a DCD, XTC or TRR trajectory ends on a whole frame.

MDAnalysis reads the whole frames of a trajectory cut short (an unfinished copy, a simulation
killed while writing) and silently ignores the rest, so a truncated file would train a model
on fewer frames than the user believes. Each of these formats stores its frames back to back,
so the file's whole frames are a prefix of it: the bytes after the last whole frame are
counted here, and :func:`check_whole_frames` makes them a one-line error that gives the
prefix's length (``head -c N``) as the fix. (A DCD header's frame count is not a check:
writers leave it stale — the AdK trajectory's announces 500 frames and holds 98 — and
MDAnalysis ignores it too.) A file cut exactly between two frames cannot be told from a
shorter trajectory.
"""

from __future__ import annotations

import struct
from pathlib import Path

from biovae.errors import DataError


def check_whole_frames(path: Path, reader) -> None:
    """A one-line error when ``path`` (read by the MDAnalysis ``reader``) ends inside a frame."""
    size = path.stat().st_size
    whole = _whole_frames(path, reader, size)
    if whole is None or whole[1] == size:
        return
    n, ends = whole
    raise DataError(
        f"{path}: the file ends inside frame {n + 1} ({n} whole frames, then {size - ends} "
        "bytes): it was cut short (an unfinished copy or simulation); copy it again, or keep "
        f"its whole frames: head -c {ends} {path.name} > whole{path.suffix}"
    )


def _whole_frames(path: Path, reader, size: int) -> tuple[int, int] | None:
    """The number of whole frames and the byte offset where the last of them ends; ``None``
    for another format, or a reader or header this cannot read."""
    kind = path.suffix.lower()
    try:
        if kind == ".dcd":
            f = reader._file  # MDAnalysis' DCD file: sizes of its header and frames
            n = reader.n_frames  # the whole frames the size holds
            return n, f._header_size + (f._firstframesize + (n - 1) * f._framesize if n else 0)
        if kind in (".xtc", ".trr"):
            offsets = reader._xdr.offsets  # where each frame starts (the last may be cut)
            if not len(offsets):
                return 0, 0
            last = int(offsets[-1])
            with open(path, "rb") as fh:
                fh.seek(last)
                head = fh.read(256)
            end = last + (_xtc_frame_size(head) if kind == ".xtc" else _trr_frame_size(head))
            return (len(offsets), end) if end <= size else (len(offsets) - 1, last)
    except (AttributeError, struct.error, ValueError):  # another MDAnalysis, an odd header
        return None
    return None


def _xtc_frame_size(head: bytes) -> int:
    """Bytes of the XTC frame starting ``head`` (XDR: big-endian 4-byte words)."""
    magic, natoms = struct.unpack(">2i", head[:8])
    if magic != 1995:  # GROMACS 2023's format for huge frames stores a 64-bit byte count
        raise ValueError(f"XTC magic number {magic}")
    fixed = 4 * (1 + 1 + 1 + 1 + 9 + 1)  # magic, natoms, step, time, box, natoms again
    if natoms <= 9:  # small systems are stored uncompressed
        return fixed + 12 * natoms
    fixed += 4 * (1 + 3 + 3 + 1)  # precision, minint, maxint, smallidx
    nbytes = struct.unpack(">i", head[fixed : fixed + 4])[0]
    return fixed + 4 + 4 * ((nbytes + 3) // 4)


def _trr_frame_size(head: bytes) -> int:
    """Bytes of the TRR frame starting ``head``: its header, then the blocks it announces."""
    magic, _, length = struct.unpack(">3i", head[:12])  # magic, string size + 1, string size
    if magic != 1993:
        raise ValueError(f"TRR magic number {magic}")
    pos = 12 + 4 * ((length + 3) // 4)  # then the version string "GMX_trn_file", padded
    sizes = struct.unpack(">13i", head[pos : pos + 52])
    ir, e, box, vir, pres, top, sym, x, v, f, natoms = sizes[:11]
    real = (box // 9) if box else (x // (3 * natoms) if natoms and x else 4)
    header = pos + 52 + 2 * real  # step and nre (in the 13 ints), then time and lambda
    return header + ir + e + box + vir + pres + top + sym + x + v + f
