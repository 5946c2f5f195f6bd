"""What :class:`~biovae.structure_estimator.ConformationVAE` is given, checked: frames from a
caller (a :class:`~biovae.data.structure.Structures`, not a bare array) and the ``structure``
entries of a saved model's ``metadata.json`` (one-line errors, not a traceback later on)."""

from __future__ import annotations

import numpy as np

from biovae.data.structure import Structures
from biovae.errors import DataError, ModelFileError


def check_structures(given: object, where: str, fitting: bool = False) -> None:
    """A one-line error unless ``given`` (an argument of ``where``, e.g.
    ``"ConformationVAE.fit"``) is a :class:`~biovae.data.structure.Structures`: a coordinate
    array has no atom names, so neither its atoms nor its protein could be checked.
    ``fitting``: it must hold frames too (``frames[mask]`` of a mask selecting none holds none)."""
    if isinstance(given, Structures):
        if fitting and not len(given):
            raise DataError(f"{given.source}: no frames; fitting needs at least 2")
        return
    kind = type(given)
    raise DataError(
        f"{where} takes Structures, got {kind.__module__}.{kind.__qualname__}; read the frames "
        "with biovae.data.structure.read_structures(path) (a coordinate array names no atoms)"
    )


def saved_chains(saved: object, damaged: str) -> tuple[str, ...] | None:
    """The saved chain selection: ``None`` (every chain) or a list of chain ids."""
    ok = saved is None or (
        isinstance(saved, list) and saved and all(isinstance(c, str) and c for c in saved)
    )
    if not ok:
        raise ModelFileError(damaged.format(f"'chains' entry is damaged ({saved!r})"))
    return None if saved is None else tuple(saved)


def saved_segids(saved: object, n_atoms: int, damaged: str) -> tuple[str, ...]:
    """The saved segment ids of the atoms without a chain id (``None``: none)."""
    if saved is None:
        return ()
    if not (isinstance(saved, list) and len(saved) == n_atoms) or not all(
        isinstance(g, str) for g in saved
    ):
        raise ModelFileError(damaged.format(f"'segids' entry is damaged (not {n_atoms} strings)"))
    return tuple(saved)


def saved_reference(saved: object, n_atoms: int, damaged: str) -> np.ndarray:
    """The saved reference frame: finite coordinates ``(n_atoms, 3)``, else a one-line error
    (``damaged``, a message to format) rather than a traceback of the first superposition."""
    try:
        ref = np.asarray(saved, dtype=np.float32)
    except (TypeError, ValueError):
        ref = np.empty(0, dtype=np.float32)
    if ref.shape != (n_atoms, 3) or not np.isfinite(ref).all():
        problem = f"not finite x, y, z coordinates of the model's {n_atoms} atoms"
        raise ModelFileError(damaged.format(f"'reference' entry is damaged ({problem})"))
    return ref
