"""A folder's ``SHA256SUMS``: the SHA-256 of each file a reader of the folder relies on, in the
format of ``sha256sum`` (``<hex>  <name>`` per line, so ``sha256sum -c SHA256SUMS`` checks it
too). Written last into a model folder; checked on load, so that a config or metadata file
edited, truncated or damaged after saving is an error naming it instead of a silently
different model. Folders saved before it was kept have none and are read unchecked.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Collection, Iterable
from pathlib import Path

from biovae.errors import ModelFileError

MANIFEST = "SHA256SUMS"
_LINE = re.compile(r"([0-9a-f]{64}) [ *](\S+)")


def sha256_hex(path: Path) -> str:
    """The SHA-256 of the file at ``path``, as 64 hex digits."""
    sha = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            sha.update(block)
    return sha.hexdigest()


def write_manifest(folder: Path, names: Collection[str]) -> None:
    """Write ``folder``'s manifest of its files ``names`` (all of which must exist)."""
    lines = [f"{sha256_hex(folder / name)}  {name}\n" for name in sorted(names)]
    (folder / MANIFEST).write_text("".join(lines), encoding="ascii")


def intact_listed(folder: Path, names: Iterable[str]) -> set[str]:
    """Those of ``names`` that ``folder``'s manifest lists with the SHA-256 their file (a
    regular file, not a link) has now: files biovae wrote there and listed (a report written
    into a model folder, :func:`add_to_manifest`), unchanged since. No manifest, or one that
    cannot be read, lists none."""
    try:
        listed = _read(folder / MANIFEST) if (folder / MANIFEST).is_file() else {}
    except ModelFileError:
        return set()
    found = set()
    for name in names:
        path = folder / name
        regular = path.is_file() and not path.is_symlink()
        if name in listed and regular and sha256_hex(path) == listed[name]:
            found.add(name)
    return found


def add_to_manifest(folder: Path, path: Path) -> None:
    """List file ``path``, which biovae wrote into ``folder`` beside the files its manifest
    covers (a report in a model folder), in that manifest, atomically: a later save of the
    folder then knows it for its own, to replace with the folder, while a file of another name
    or changed since is still someone else's. A folder without a manifest is left without."""
    from biovae.data.writers import atomic_open

    manifest = folder / MANIFEST
    if not manifest.is_file():
        return
    listed = {**_read(manifest), path.name: sha256_hex(path)}
    with atomic_open(manifest, "w") as fh:
        fh.write("".join(f"{digest}  {name}\n" for name, digest in sorted(listed.items())))


def check_manifest(folder: Path, names: Collection[str], unchecked: Collection[str] = ()) -> None:
    """``folder``'s files ``names`` are as they were saved: each is listed in its manifest
    with the SHA-256 it has now (the files ``unchecked`` only need to be listed: their bytes are
    checked elsewhere, read once). A folder without a manifest (saved before biovae kept one,
    or its manifest removed on purpose) passes; anything else is a one-line error."""
    path = folder / MANIFEST
    if not path.exists():
        return
    listed = _read(path)
    for name in sorted(names):
        if name not in listed:
            raise ModelFileError(
                f"{path}: lists no {name}; the folder is damaged: restore it or refit the model"
            )
        if name not in unchecked and sha256_hex(folder / name) != listed[name]:
            raise ModelFileError(
                f"{folder / name}: the file was changed or damaged after it was saved (its "
                f"SHA-256 differs from the one in {MANIFEST}); restore the folder or refit the "
                f"model (or, if you edited it on purpose, delete {MANIFEST} to load it unchecked)"
            )


def _read(path: Path) -> dict[str, str]:
    """The manifest's entries, name -> hex digest (a damaged manifest is a one-line error)."""
    try:
        text = path.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as exc:
        raise ModelFileError(
            f"{path}: unreadable ({exc}); restore the folder or refit the model"
        ) from exc
    listed = {}
    for number, line in enumerate(text.splitlines(), 1):
        match = _LINE.fullmatch(line)
        if match is None:
            raise ModelFileError(
                f"{path}, line {number}: not '<SHA-256>  <file name>'; the file is damaged: "
                "restore the folder or refit the model"
            )
        listed[match.group(2)] = match.group(1)
    return listed
