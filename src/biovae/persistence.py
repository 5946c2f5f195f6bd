"""Saved models: a folder with ``config.json``, ``weights.safetensors``, ``metadata.json``, the
model card ``MODEL_CARD.md`` (what the model is for and its limits, for people: loading never
reads it) and ``SHA256SUMS``, the SHA-256 of the three files loading reads, checked on load
(:mod:`biovae.data.manifest`).

Loading reads JSON and raw tensors only; nothing is ever unpickled. Writing is atomic: the
folder is assembled under a temporary name and renamed into place
(:func:`biovae.data.folders.write_dir`, also used for variants models and training checkpoints).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_bytes
from safetensors.torch import load_file, save_file

from biovae import likelihoods
from biovae._version import __version__
from biovae.config import FitConfig, from_dict, to_dict
from biovae.config_io import json_object
from biovae.data.card import MODEL_CARD, Card, markdown
from biovae.data.folders import foreign_entries, place_problem, restore_aside, write_dir
from biovae.data.manifest import MANIFEST, check_manifest, write_manifest
from biovae.errors import ConfigError, ModelFileError
from biovae.models.schema import DataSchema
from biovae.rebuild import rebuilt

CONFIG = "config.json"
WEIGHTS = "weights.safetensors"
METADATA = "metadata.json"
#: the files a model folder's manifest covers: those loading reads (not the card, which people
#: may edit)
CHECKED = (CONFIG, WEIGHTS, METADATA)
MODEL_FILES = frozenset({*CHECKED, MODEL_CARD, MANIFEST})
#: metadata.json's SHA-256 of the weights file: safetensors has no checksum of its own, and
#: a flipped byte in a tensor would otherwise load as a silently different model
WEIGHTS_DIGEST = "weights_sha256"
RESERVED = frozenset(
    {"format_version", "biovae_version", "torch_version", "created", "schema", WEIGHTS_DIGEST}
)
FORMAT_VERSION = 1


@dataclass(frozen=True)
class SavedModel:
    """Everything in a model folder."""

    config: FitConfig
    schema: DataSchema
    weights: dict[str, torch.Tensor]
    metadata: dict[str, Any]
    #: the folder it was read from (None: not read from disk), for error messages
    folder: Path | None = None
    #: the model card to write beside it (None: none; a loaded model has none)
    card: Card | None = None


def save(path: str | os.PathLike, saved: SavedModel) -> Path:
    """Write ``saved`` to folder ``path`` atomically (replacing an existing model folder)."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    check_model_out(out)
    clash = sorted(RESERVED & set(saved.metadata))
    if clash:
        raise ModelFileError(
            f"metadata key {clash[0]!r} is biovae's own; store it under another name"
        )
    meta = {
        "format_version": FORMAT_VERSION,
        "biovae_version": __version__,
        "torch_version": torch.__version__,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        **saved.metadata,
        "schema": saved.schema.to_dict(),
    }
    write_dir(out, lambda tmp: _write_files(tmp, saved, meta), MODEL_FILES)
    return out


def _write_files(folder: Path, saved: SavedModel, meta: dict[str, Any]) -> None:
    (folder / CONFIG).write_text(json.dumps(to_dict(saved.config), indent=2))
    weights = {k: v.detach().cpu().contiguous() for k, v in saved.weights.items()}
    write_weights(folder / WEIGHTS, weights, {"format": "biovae"})
    meta = {**meta, WEIGHTS_DIGEST: digest((folder / WEIGHTS).read_bytes())}
    (folder / METADATA).write_text(json.dumps(meta, indent=2, default=_jsonable))
    if saved.card is not None:
        (folder / MODEL_CARD).write_text(markdown(saved.card, card_footer(meta)), encoding="utf-8")
    write_manifest(folder, CHECKED)


def card_footer(meta: dict[str, Any]) -> list[str]:
    """The card's last lines: who wrote the model folder, when, and its weights' digest."""
    return [
        f"Written by biovae {meta['biovae_version']} (torch {meta['torch_version']}) on "
        f"{meta['created']}.",
        f"Weights: {WEIGHTS} ({meta[WEIGHTS_DIGEST]}); settings: {CONFIG}; facts: {METADATA}.",
    ]


def load_weights(build: Callable[[], torch.nn.Module], saved: SavedModel) -> torch.nn.Module:
    """The model ``build`` makes from ``saved``'s config, holding its weights, in eval mode;
    weights of another name, shape or dtype (or a config that builds no model) are a one-line
    error naming the file (:func:`biovae.rebuild.rebuilt`)."""
    where = f"{saved.folder / WEIGHTS}: " if saved.folder else ""

    def error(problem: str) -> ConfigError:
        return ConfigError(
            f"{where}the weights of this saved model do not match this biovae version's model "
            f"({problem}); refit the model"
        )

    return rebuilt(build, saved.weights, error)


def recover(folder: Path) -> None:
    """Put back, with a warning, the model that a save killed while replacing ``folder`` left
    aside, when ``folder`` is missing (:func:`biovae.data.folders.restore_aside`)."""
    aside = restore_aside(folder, MODEL_FILES)
    if aside is not None:
        warnings.warn(
            f"{folder} was missing: a save killed while replacing it had left the model it "
            f"held aside as {aside.name}, which is now back in place",
            stacklevel=3,
        )


def check_files(folder: Path) -> None:
    """The config and metadata of model folder ``folder`` are as saved (its ``SHA256SUMS``;
    the weights are checked against their digest in the metadata, read once)."""
    check_manifest(folder, CHECKED, unchecked=(WEIGHTS,))


def digest(data: bytes) -> str:
    """``sha256:<hex>`` of a weights file's bytes."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


def check_model_out(out: Path) -> Path:
    """``out`` may be written: it does not exist, is an empty folder, or holds a model's files
    and nothing else but files its ``SHA256SUMS`` lists unchanged (a report written into it:
    :func:`biovae.data.manifest.add_to_manifest`); a folder with other files in it is never
    replaced wholesale. Nor is it a link to nothing or the current folder
    (:func:`biovae.data.folders.place_problem`).
    A model that a killed save left aside is put back first, to be replaced like any other."""
    restore_aside(out, MODEL_FILES)
    problem = place_problem(out)
    if problem:
        raise ModelFileError(f"{out} {problem}")
    if not out.exists():
        return out
    if not out.is_dir():
        raise ModelFileError(f"{out} is a file, not a model folder; choose another --out path")
    others = foreign_entries(out, MODEL_FILES)
    if others:
        raise ModelFileError(
            f"{out} holds {others[0]!r}, which is not part of a biovae model; saving would delete "
            "it: choose another --out path (or an empty folder)"
        )
    return out


def _jsonable(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"cannot store {type(value).__name__} in metadata.json")


def load(path: str | os.PathLike) -> SavedModel:
    """Read a model folder written by :func:`save`."""
    folder = Path(path)
    recover(folder)
    for name in CHECKED:
        if not (folder / name).is_file():
            raise ModelFileError(
                f"{folder} is not a biovae model folder (missing {name}); pass the folder "
                "written by 'biovae fit --out' (or 'biovae structure fit --out')"
            )
    check_files(folder)
    config_data, meta = read_json(folder / CONFIG), read_json(folder / METADATA)
    if meta.get("format") == "biovae-variants":
        raise ModelFileError(
            f"{folder} holds a variants model (from 'biovae variants fit'), not one of "
            f"'biovae fit': generate sequences from it with 'biovae variants design {folder} "
            "-k 3 --out designs.csv --fasta designs.fasta', score variants with 'biovae "
            "variants score' or 'scan'"
        )
    version = meta.get("format_version", 0)
    if isinstance(version, bool) or not isinstance(version, int):
        raise ModelFileError(
            f"{folder / METADATA}: format_version {version!r} is not a whole number; the file "
            "is damaged: refit the model or restore its folder"
        )
    if version > FORMAT_VERSION:
        raise ModelFileError(
            f"{folder} was written by a newer biovae ({meta.get('biovae_version')}); upgrade biovae"
        )
    try:
        config = from_dict(FitConfig, config_data, "config")
        likelihoods.get(config.model.likelihood.name)  # a name not in the registry
    except ConfigError as exc:
        raise ModelFileError(f"{folder / CONFIG}: {exc}") from exc
    _check_metadata(folder / METADATA, meta)
    weights = checked_weights(folder / WEIGHTS, meta.get(WEIGHTS_DIGEST))
    if "schema" not in meta:
        raise ModelFileError(f"{folder / METADATA}: no 'schema' entry; refit the model")
    try:
        schema = DataSchema.from_dict(meta.pop("schema"))
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ModelFileError(
            f"{folder / METADATA}: the 'schema' entry is damaged ({type(exc).__name__}: {exc}); "
            "refit the model or restore its folder"
        ) from exc
    return SavedModel(config, schema, weights, meta, folder)


#: metadata entries a loaded model takes as its own, and the JSON types they must have
_META_TYPES = {
    "data_fingerprint": (str,),
    "n_train": (int,),
    "n_validation": (int,),
    "history": (list,),
    WEIGHTS_DIGEST: (str,),
    "n_calibration": (int,),  # a semi-supervised VAE's (biovae.ssvae_estimator)
    "label_dtype": (str,),  # and the numbers its labels are, if any (typed_levels checks it)
    "mapping": (dict,),  # a mapped model's reference (biovae.query), read by its card
}
#: the entries of ``mapping`` and their JSON types
_MAPPING_TYPES = {"levels_added": dict, "reference_n_train": int, "reference_fingerprint": str}


def _check_metadata(path: Path, meta: dict[str, Any]) -> None:
    """The entries of ``metadata.json`` a loaded model uses have the types ``save`` wrote."""
    for key, types in _META_TYPES.items():
        value = meta.get(key)
        bad = value is not None and (isinstance(value, bool) or not isinstance(value, types))
        bad = bad or (key == "history" and not all(isinstance(r, dict) for r in value or []))
        if bad or (key == "mapping" and value and not _is_mapping(value)):
            raise ModelFileError(
                f"{path}: the {key!r} entry is damaged ({value!r:.40}); refit the model or "
                "restore its folder"
            )


def _is_mapping(value: dict[str, Any]) -> bool:
    """``value`` has the entries (and types) of :mod:`biovae.query`'s ``mapping_``."""
    typed = all(type(value.get(k)) is t for k, t in _MAPPING_TYPES.items())
    levels = value.get("levels_added")
    return typed and all(
        isinstance(v, list) and all(isinstance(s, str) for s in v) for v in levels.values()
    )


def checked_weights(path: Path, expected: str | None) -> dict[str, torch.Tensor]:
    """The tensors of a model's weights file, once its bytes are those that were saved
    (``expected`` digest; models saved before it was kept have none) and every float is
    finite."""
    try:  # read once: the tensors and the digest
        data = path.read_bytes()
    except OSError as exc:
        raise ModelFileError(f"{path}: damaged weights file ({exc}); refit the model") from exc
    weights = read_weights(path, data)  # first: a file that is no safetensors at all says so
    if expected is not None and digest(data) != expected:
        raise ModelFileError(
            f"{path}: the weights file was changed or damaged after it was saved (its SHA-256 "
            "differs from metadata.json's); refit the model or restore its folder"
        )
    for name, tensor in weights.items():
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            raise ModelFileError(
                f"{path}: tensor {name!r} holds NaN or infinite values; the file is damaged: "
                "refit the model or restore its folder"
            )
    return weights


def given_config(saved: SavedModel) -> FitConfig:
    """The settings a saved model was asked for, before fitting learned anything from its data
    (``given_config`` in its metadata; models saved before it was kept: the fitted config)."""
    given = saved.metadata.get("given_config")
    if given is None:
        return saved.config
    try:
        return from_dict(FitConfig, given, "given_config")
    except ConfigError as exc:
        where = saved.folder / METADATA if saved.folder else METADATA
        raise ModelFileError(f"{where}: {exc}; refit the model") from exc


def read_json(path: Path) -> dict[str, Any]:
    """A model file's JSON object (a one-line error for anything else)."""
    return json_object(path, ModelFileError, "; refit the model")


def read_weights(path: Path, data: bytes | None = None) -> dict[str, torch.Tensor]:
    """The tensors of a safetensors file, or of its bytes ``data`` already read (a one-line
    error for a damaged one)."""
    try:
        return load_file(str(path)) if data is None else load_bytes(data)
    except (SafetensorError, OSError) as exc:
        raise ModelFileError(f"{path}: damaged weights file ({exc}); refit the model") from exc


def write_weights(
    path: Path, tensors: dict[str, torch.Tensor], metadata: dict[str, str] | None = None
) -> None:
    """safetensors' ``save_file``, whose failures to write (a full disk, a file size limit)
    surface as the ``OSError`` they are, which the command line reports in one line; safetensors
    raises its own error type for them, naming the error only in its text."""
    try:
        save_file(tensors, str(path), metadata=metadata)
    except SafetensorError as exc:
        # "… (os error 27)"; older safetensors (0.4.0): "IoError(Os { code: 27, … })"
        code = re.search(r"\(os error (\d+)\)|Os \{ code: (\d+)", str(exc))
        if code is None:
            raise
        number = int(code.group(1) or code.group(2))
        raise OSError(number, os.strerror(number), str(path)) from exc
