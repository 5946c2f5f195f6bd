"""The facts a saved family model's ``metadata.json`` holds about its alignment (alphabet, focus,
residue numbers, the focus's whole sequence), read back and checked: an entry that is missing,
damaged or edited is a one-line :class:`~biovae.errors.ModelFileError`, not a traceback."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from biovae.applications.variants.focus import FocusResidues
from biovae.errors import ModelFileError


def focus_residues(folder: Path, meta: dict[str, Any], focus: str) -> FocusResidues | None:
    """The focus's whole sequence from (and out of) ``meta``; None for a model saved before
    it was kept."""
    sequence, index = meta.pop("focus_residues", None), meta.pop("focus_residue_index", None)
    if sequence is None and index is None:
        return None
    if not (isinstance(sequence, str) and isinstance(index, list)):
        problem = "only one of focus_residues and focus_residue_index"
    elif not all(isinstance(i, int) and not isinstance(i, bool) for i in index):
        problem = "residue indices that are not whole numbers"
    else:
        whole = FocusResidues(sequence.upper(), tuple(index))
        problem = whole.problem(focus)
        if problem is None:
            return whole
    raise ModelFileError(
        f"{folder}/metadata.json: the focus's whole sequence does not fit the model ({problem}); "
        "the file was edited or is damaged — refit the model"
    )


#: the metadata entries a loaded family model uses (scoring and its card), and their JSON types
_FACT_TYPES = {
    "neff": (int, float),
    "history": (list,),
    "n_sequences": (int,),
    "n_read": (int,),
    "fingerprint": (str,),
    "latent_usage": (list,),
}


def alignment_facts(path: Path, meta: dict[str, Any]) -> tuple[str, np.ndarray, tuple[int, ...]]:
    """The alphabet, focus letter codes and residue numbers taken out of ``meta`` (read from
    ``path``); an entry that is missing, or not of the types :func:`save` wrote, is a one-line
    error rather than a traceback of the first score."""
    alphabet, focus, positions = (meta.pop(k, None) for k in ("alphabet", "focus", "positions"))
    whole = isinstance(focus, list) and isinstance(positions, list)
    whole = whole and all(type(v) is int for v in (*focus, *positions))
    problem = None
    if not isinstance(alphabet, str) or not 0 < len(set(alphabet)) == len(alphabet) <= 256:
        problem = f"the 'alphabet' entry is damaged ({alphabet!r:.40})"
    elif not whole:
        problem = "the 'focus' and 'positions' entries are not lists of whole numbers"
    elif len(positions) != len(focus):
        problem = f"residue numbers for {len(positions)} of the focus's {len(focus)} match columns"
    elif not all(0 <= c < len(alphabet) for c in focus):
        problem = f"the 'focus' entry holds letter codes outside 0–{len(alphabet) - 1}"
    for key, types in _FACT_TYPES.items():
        value = meta.get(key)
        if problem is None and value is not None and (type(value) not in types):
            problem = f"the {key!r} entry is damaged ({value!r:.40})"
    history = meta.get("history") or []
    if problem is None and not all(isinstance(r, list) and _records(r) for r in history):
        problem = "the 'history' entry is damaged (not lists of records)"
    if problem is None and not all(_usage(u) for u in meta.get("latent_usage") or []):
        problem = "the 'latent_usage' entry is damaged (not one record per member)"
    if problem is not None:
        raise ModelFileError(f"{path}: {problem}; refit the model or restore its folder")
    return alphabet, np.asarray(focus, dtype=np.uint8), tuple(positions)


def _records(rows: list) -> bool:
    return all(isinstance(r, dict) for r in rows)


def _usage(entry: Any) -> bool:
    """A member's saved latent usage (:func:`biovae.latent_usage.measured`), or None."""
    if entry is None:
        return True
    keys = {"n_active": int, "n_latent": int, "records": int, "split": str, "threshold": float}
    return isinstance(entry, dict) and all(type(entry.get(k)) is t for k, t in keys.items())
