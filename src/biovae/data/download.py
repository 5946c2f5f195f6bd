"""Download a file once into a local cache, verified by its SHA-256."""

from __future__ import annotations

import hashlib
import http.client
import os
import shutil
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from biovae.data.writers import atomic_write
from biovae.errors import DataError

_CHUNK = 1 << 20


def cache_root(cache_dir: str | os.PathLike | None = None) -> Path:
    """``cache_dir``, else ``$BIOVAE_CACHE``, else ``~/.cache/biovae``."""
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    env = os.environ.get("BIOVAE_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "biovae"


def fetch(
    url: str, sha256: str, cache_dir: str | os.PathLike | None = None, *, timeout: float = 60.0
) -> Path:
    """Return a local copy of ``url``, downloading it if the cache lacks a valid one.

    Parameters
    ----------
    url
        ``http(s)://`` or ``file://`` address; the file name is its last path component.
    sha256
        Expected SHA-256, as hex digits or ``"sha256:<hex>"``.
    cache_dir
        Cache folder (default: ``$BIOVAE_CACHE`` or ``~/.cache/biovae``).
    timeout
        Seconds to wait for the server.

    Returns
    -------
    Path
        The cached file, whose checksum matches.

    Raises
    ------
    DataError
        If the download fails or the checksum differs (nothing is left in the cache then).
    """
    expected = sha256.strip().lower().removeprefix("sha256:")
    if len(expected) != 64 or set(expected) - set("0123456789abcdef"):
        raise DataError(
            f"{url}: checksum {sha256.strip()[:80]!r} is not a SHA-256 (64 hex digits); give the "
            "file's sha256"
        )
    name = Path(urllib.parse.unquote(urllib.parse.urlparse(url).path)).name
    if not name:
        raise DataError(f"{url}: the address does not end in a file name; cannot cache it")
    target = cache_root(cache_dir) / name
    if target.is_file() and file_sha256(target) == expected:
        return target
    try:
        atomic_write(target, lambda tmp: _download(url, tmp, expected, timeout))
    except OSError as exc:  # the cache folder itself: a file, unwritable, ...
        raise DataError(
            f"cache folder {target.parent} cannot take {name} ({exc.strerror or exc}); set "
            "$BIOVAE_CACHE or cache_dir to a writable folder"
        ) from exc
    return target


def file_sha256(path: str | os.PathLike) -> str:
    """SHA-256 hex digest of a file, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(_CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


def _download(url: str, dest: Path, expected: str, timeout: float) -> None:
    """Stream ``url`` into ``dest`` and check its SHA-256."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response, open(dest, "xb") as out:
            shutil.copyfileobj(response, out, _CHUNK)
    except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as exc:
        raise DataError(
            f"{url}: download failed ({exc}); check the address and the network, or download "
            f"the file yourself into {dest.parent}"
        ) from exc
    actual = file_sha256(dest)
    if actual != expected:
        raise DataError(
            f"{url}: checksum mismatch (expected sha256 {expected}, got {actual}); the file "
            "changed or the download was corrupted; nothing was cached"
        )
