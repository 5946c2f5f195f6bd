"""Saved models: a folder with ``config.json``, ``weights.safetensors`` and ``metadata.json``.

Loading reads JSON and raw tensors only; nothing is ever unpickled. Writing is atomic: the
folder is assembled under a temporary name and renamed into place.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from biovae._version import __version__
from biovae.config import FitConfig, from_dict, to_dict
from biovae.errors import ConfigError, ModelFileError
from biovae.models.schema import DataSchema

CONFIG = "config.json"
WEIGHTS = "weights.safetensors"
METADATA = "metadata.json"
MODEL_FILES = frozenset({CONFIG, WEIGHTS, METADATA})
RESERVED = frozenset({"format_version", "biovae_version", "torch_version", "created", "schema"})
FORMAT_VERSION = 1


@dataclass(frozen=True)
class SavedModel:
    """Everything in a model folder."""

    config: FitConfig
    schema: DataSchema
    weights: dict[str, torch.Tensor]
    metadata: dict[str, Any]


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
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    try:
        (tmp / CONFIG).write_text(json.dumps(to_dict(saved.config), indent=2))
        weights = {k: v.detach().cpu().contiguous() for k, v in saved.weights.items()}
        save_file(weights, str(tmp / WEIGHTS), metadata={"format": "biovae"})
        (tmp / METADATA).write_text(json.dumps(meta, indent=2, default=_jsonable))
        replace_dir(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def check_model_out(out: Path) -> Path:
    """``out`` may be written: it does not exist, is an empty folder, or holds a model's files
    and nothing else (a folder with other files in it is never replaced wholesale)."""
    if not out.exists():
        return out
    if not out.is_dir():
        raise ModelFileError(f"{out} is a file, not a model folder; choose another --out path")
    others = sorted(p.name for p in out.iterdir() if p.name not in MODEL_FILES)
    if others:
        raise ModelFileError(
            f"{out} holds {others[0]!r}, which is not part of a biovae model; saving would delete "
            "it: choose another --out path (or an empty folder)"
        )
    return out


def replace_dir(src: Path, dst: Path) -> None:
    old = dst.with_name(f".{dst.name}.old")
    if dst.exists():
        shutil.rmtree(old, ignore_errors=True)
        os.replace(dst, old)
    os.replace(src, dst)
    shutil.rmtree(old, ignore_errors=True)


def _jsonable(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"cannot store {type(value).__name__} in metadata.json")


def load(path: str | os.PathLike) -> SavedModel:
    """Read a model folder written by :func:`save`."""
    folder = Path(path)
    for name in (CONFIG, WEIGHTS, METADATA):
        if not (folder / name).is_file():
            raise ModelFileError(
                f"{folder} is not a biovae model folder (missing {name}); pass the folder "
                "written by 'biovae fit --out'"
            )
    config_data, meta = read_json(folder / CONFIG), read_json(folder / METADATA)
    if meta.get("format") == "biovae-variants":
        raise ModelFileError(
            f"{folder} holds a variants model; use 'biovae variants score/scan/design' with it"
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
    except ConfigError as exc:
        raise ModelFileError(f"{folder / CONFIG}: {exc}") from exc
    weights = read_weights(folder / WEIGHTS)
    if "schema" not in meta:
        raise ModelFileError(f"{folder / METADATA}: no 'schema' entry; refit the model")
    try:
        schema = DataSchema.from_dict(meta.pop("schema"))
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ModelFileError(
            f"{folder / METADATA}: the 'schema' entry is damaged ({type(exc).__name__}: {exc}); "
            "refit the model or restore its folder"
        ) from exc
    return SavedModel(config, schema, weights, meta)


def given_config(saved: SavedModel) -> FitConfig:
    """The settings a saved model was asked for, before fitting learned anything from its data
    (``given_config`` in its metadata; models saved before it was kept: the fitted config)."""
    given = saved.metadata.get("given_config")
    if given is None:
        return saved.config
    try:
        return from_dict(FitConfig, given, "given_config")
    except ConfigError as exc:
        raise ModelFileError(f"metadata.json: {exc}; refit the model") from exc


def read_json(path: Path) -> dict[str, Any]:
    """A model file's JSON object (a one-line error for anything else)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelFileError(f"{path}: corrupt JSON ({exc}); refit the model") from exc
    if not isinstance(data, dict):
        raise ModelFileError(f"{path}: not a JSON object; refit the model")
    return data


def read_weights(path: Path) -> dict[str, torch.Tensor]:
    """The tensors of a safetensors file (a one-line error for a damaged one)."""
    try:
        return load_file(str(path))
    except (SafetensorError, OSError) as exc:
        raise ModelFileError(f"{path}: damaged weights file ({exc}); refit the model") from exc
