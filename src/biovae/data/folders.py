"""Atomic output folders (model folders, variants models, training checkpoints): a folder is
written under a temporary name beside its place, flushed to the disk, and renamed into it, so a
failed or killed run leaves the old folder or the new one, never a mix or a half-written file.
(A run killed outright between the two renames of a replacement leaves the old folder aside,
under a hidden name; the next save or load of that folder puts it back: :func:`restore_aside`.)
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import secrets
import shutil
import time
from collections.abc import Callable, Collection
from pathlib import Path

from biovae.data.manifest import intact_listed
from biovae.errors import ModelFileError

#: seconds without a change after which a temporary or old folder counts as left over
LEFTOVER_AGE = 600.0


def place_problem(out: Path) -> str | None:
    """Why no folder can be written at ``out``, and the fix (words following its path), or
    None: a link to nothing (the folder would be written in the link's place only to fail
    there, after the work), or the current folder (renamed away, it would leave the shell in a
    deleted folder; ``.`` and ``..`` also have no name to write a temporary sibling under)."""
    if out.is_symlink() and not out.exists():
        target = os.readlink(out)
        return f"is a link to {target}, which does not exist; create {target} or remove the link"
    try:
        here = Path.cwd().resolve()
    except OSError:  # the current folder was deleted: it is no output's
        here = None
    if out.name in ("", "..") or out.resolve() == here:
        return (
            "is the current folder or names it with '.' or '..', and saving replaces the whole "
            "folder; run from outside it and give the folder's name"
        )
    return None


def foreign_entries(folder: Path, names: Collection[str]) -> list[str]:
    """The entries of ``folder`` that replacing it by a folder of files ``names`` would delete:
    any of another name, unless the folder's manifest lists it as it is now (a report biovae
    wrote into it: :func:`biovae.data.manifest.add_to_manifest`), and folders (ending in
    ``/``) of those names (a link is removed, never followed, so links of those names are not
    listed)."""
    found = []
    for path in sorted(folder.iterdir()):
        if path.name not in names:
            found.append(path.name)
        elif path.is_dir() and not path.is_symlink():
            found.append(path.name + "/")
    ours = intact_listed(folder, [name for name in found if not name.endswith("/")])
    return [name for name in found if name not in ours]


def write_dir(out: Path, write: Callable[[Path], None], names: Collection[str]) -> None:
    """Write folder ``out`` atomically: ``write`` fills a new temporary sibling folder, whose
    files get the modes ``open`` gives (the umask's) and are flushed to the disk, and that
    folder then takes ``out``'s place.

    ``out`` may be a symbolic link to a folder: the folder it points to is replaced.
    ``names``: the files ``write`` may create; leftovers of an earlier save of ``out`` that was
    killed (temporary or old folders holding nothing but such files) are removed first.
    """
    restore_aside(out, names)  # first: a killed save's old folder is no leftover to delete
    if out.is_symlink() and out.is_dir():  # a link to a model folder: write that folder (and
        out = out.resolve()  # keep the link), rather than put a folder in the link's place
    remove_leftovers(out, names)
    # Named before it exists, so that an interrupt at any instant after the mkdir finds it to
    # delete (a colliding folder of a user's is deleted only if it looks like such a leftover).
    tmp = out.with_name(f".{out.name}.tmp-{secrets.token_hex(4)}")
    made = False
    try:
        tmp.mkdir()  # mode 0o777 less the umask, as for any folder
        made = True
        write(tmp)
        share_like(tmp)
        sync(tmp)
        replace_dir(tmp, out)
    finally:
        if made or only_files(tmp, names):
            shutil.rmtree(tmp, ignore_errors=True)


def sync(folder: Path) -> None:
    """Flush the files of ``folder`` and its list of them to the disk. The old folder is
    deleted as soon as the new one is in place: without this, a crash of the machine soon after
    could find the new folder's files still empty (their data not yet written), the old gone."""
    for path in folder.iterdir():
        _fsync(path)
    with contextlib.suppress(OSError):  # some file systems cannot flush a folder (EINVAL)
        _fsync(folder)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def replace_dir(src: Path, dst: Path) -> None:
    """Put folder ``src`` in the place of ``dst`` (which may not exist). Whatever happens, an
    error or an interrupt between the two renames included, ``dst`` then holds either the old
    folder or the new one; the old one is deleted only once the new one is in place. (A kill
    that no ``finally`` sees, between the renames, leaves it aside: :func:`restore_aside`.)"""
    old = dst.with_name(f".{dst.name}.old-{secrets.token_hex(4)}")  # never a user's folder
    try:
        if dst.exists():
            os.replace(dst, old)
        _rename_into(src, dst)
    finally:  # an interrupt may land anywhere here, even after both renames
        if old.exists() and not dst.exists():
            os.replace(old, dst)  # the new folder never arrived: the old one goes back
        elif old.exists():
            _remove_dir(old)


def _rename_into(src: Path, dst: Path) -> None:
    """Rename ``src`` to ``dst``; refused in words when another process's folder took the place
    in the meantime (it is kept: that save finished last)."""
    try:
        os.replace(src, dst)
    except OSError as exc:
        if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST):
            raise
        raise ModelFileError(
            f"{dst} was written by another run while this one saved to it, and that run's "
            "folder was kept; give runs at the same time folders of their own"
        ) from exc


def _remove_dir(path: Path) -> None:
    """``shutil.rmtree`` that a Ctrl-C or SIGTERM in the middle does not leave half done."""
    try:
        shutil.rmtree(path, ignore_errors=True)
    except BaseException:
        shutil.rmtree(path, ignore_errors=True)
        raise


def restore_aside(out: Path, names: Collection[str]) -> Path | None:
    """Put back the folder that a save killed between the two renames of :func:`replace_dir`
    (a ``kill -9``, a crash of the machine) left aside as ``.<name>.old-<8 hex digits>``, with
    no folder at ``out``; return where it was (None: nothing to restore). Only a folder holding
    nothing but files named in ``names`` is taken, the newest if there are several; the killed
    save's new folder (``.<name>.tmp-…``) is a leftover for :func:`remove_leftovers`. ``out``
    may be a link: the folder it points to is restored."""
    if out.is_symlink():
        out = out.resolve()
    if out.exists() or out.is_symlink() or not out.parent.is_dir():
        return None
    asides = [p for p in _leftovers(out, "old") if only_files(p, names)]
    newest = max(asides, key=_changed, default=None)
    try:
        if newest is not None:
            os.replace(newest, out)
    except OSError:  # another process restored or wrote ``out`` first
        return None
    return newest


def _changed(path: Path) -> float:
    """When ``path`` was last renamed or changed (0: it is gone)."""
    try:
        return path.stat().st_ctime
    except OSError:
        return 0.0


def _leftovers(out: Path, kinds: str) -> list[Path]:
    """The folders beside ``out`` named like :func:`write_dir`'s temporary (``kinds`` "tmp")
    or old (``"old"``, or ``"tmp|old"`` for both) folders of it."""
    pattern = re.compile(re.escape(f".{out.name}.") + f"({kinds})-[0-9a-f]{{8}}")
    try:
        return [p for p in out.parent.iterdir() if pattern.fullmatch(p.name)]
    except OSError:  # no such folder, or one we may not list: nothing of ours to find
        return []


def remove_leftovers(out: Path, names: Collection[str]) -> None:
    """Delete the temporary and old folders that a killed :func:`write_dir` of ``out`` left
    beside it, but only those holding nothing except files named in ``names``: a folder with
    anything else in it is a user's and is kept."""
    now = time.time()
    for folder in _leftovers(out, "tmp|old"):
        if not only_files(folder, names):
            continue
        try:  # untouched for a while: not the folder of a save still running in parallel
            stale = now - max(p.stat().st_mtime for p in (folder, *folder.iterdir())) > LEFTOVER_AGE
        except OSError:
            continue
        if stale:
            shutil.rmtree(folder, ignore_errors=True)


def only_files(folder: Path, names: Collection[str]) -> bool:
    """``folder`` is a real folder (not a link) whose entries are all files named in ``names``
    or listed, as they are, in its manifest (:func:`foreign_entries`)."""
    if folder.is_symlink() or not folder.is_dir():
        return False
    try:
        entries = list(folder.iterdir())
        if not all(p.is_file() and not p.is_symlink() for p in entries):
            return False
        others = [p.name for p in entries if p.name not in names]
        return not others or intact_listed(folder, others) == set(others)
    except OSError:
        return False


def share_like(folder: Path) -> None:
    """Give the files in ``folder`` the modes ``open`` would (0o666 less the umask, read off
    the folder's own mode, which ``mkdir`` set from it): safetensors writes its files 0o600,
    and a refit would otherwise turn a shared model private."""
    mode = folder.stat().st_mode & 0o666
    for path in folder.iterdir():
        if path.is_file() and not path.is_symlink():
            os.chmod(path, mode)
