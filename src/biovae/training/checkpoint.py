"""Training checkpoints for ``--resume``: tensors in safetensors, the rest in JSON (no pickle)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from biovae.errors import ModelFileError
from biovae.persistence import only_files, write_dir
from biovae.training.optim import Adam

TENSORS = "state.safetensors"
SCALARS = "state.json"


def save_checkpoint(
    path: Path,
    model: nn.Module,
    optimizer: Adam,
    generator: torch.Generator,
    state: dict[str, Any],
    best: dict[str, torch.Tensor] | None = None,
    rng_states: list[torch.Tensor] | None = None,
) -> None:
    """Atomically write model, optimizer, RNG states and loop ``state`` to folder ``path``;
    ``best``: the weights of the best epoch so far (restored at the end of a resumed fit);
    ``rng_states``: torch's RNG state of every rank (default: this process's)."""
    tensors = {f"model.{k}": v.detach().contiguous() for k, v in model.state_dict().items()}
    for k, v in (best or {}).items():
        tensors[f"best.{k}"] = v.detach().contiguous()
    opt = optimizer.state_dict()
    opt_meta: dict[str, Any] = {"param_groups": opt["param_groups"], "state": {}}
    for pid, pstate in opt["state"].items():
        opt_meta["state"][str(pid)] = []
        for key, value in pstate.items():
            if torch.is_tensor(value):
                tensors[f"opt.{pid}.{key}"] = value.detach().contiguous()
                opt_meta["state"][str(pid)].append(key)
    for rank, rng in enumerate(rng_states or [torch.get_rng_state()]):
        tensors[f"rng.torch.{rank}"] = rng.contiguous()
    tensors["rng.shuffle"] = generator.get_state()
    meta = {"loop": state, "optimizer": opt_meta}
    check_checkpoint_dir(path)
    remove_legacy_leftovers(path.parent)
    write_dir(path, lambda tmp: _write_files(tmp, tensors, meta), (TENSORS, SCALARS))


def _write_files(folder: Path, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
    save_file(tensors, str(folder / TENSORS))
    (folder / SCALARS).write_text(json.dumps(meta))


def remove_legacy_leftovers(parent: Path) -> None:
    """Delete the ``.ckpt-*`` temporary folders that earlier versions of biovae left in
    ``parent`` when killed while checkpointing, but only those holding nothing except checkpoint
    files (a user's folder of that name is kept)."""
    for folder in parent.glob(".ckpt-*"):
        if re.fullmatch(r"\.ckpt-[a-z0-9_]{8}", folder.name) and only_files(
            folder, (TENSORS, SCALARS)
        ):
            shutil.rmtree(folder, ignore_errors=True)


def check_checkpoint_dir(path: Path) -> None:
    """``path`` may hold checkpoints: it does not exist, is empty, or holds an earlier
    checkpoint and nothing else (saving replaces the folder)."""
    if not path.exists():
        return
    if not path.is_dir():
        raise ModelFileError(f"checkpoint folder {path} is a file; choose another folder")
    others = sorted(p.name for p in path.iterdir() if p.name not in (TENSORS, SCALARS))
    if others:
        raise ModelFileError(
            f"checkpoint folder {path} holds {others[0]!r}, which checkpointing would delete; "
            "choose an empty or new folder for checkpoints"
        )


def load_checkpoint(
    path: Path, model: nn.Module, optimizer: Adam, generator: torch.Generator, rank: int = 0
) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """Restore what :func:`save_checkpoint` wrote (RNG: this ``rank``'s state); returns the
    loop state and the best weights so far (the model's, if the checkpoint holds none)."""
    if not (path / TENSORS).is_file() or not (path / SCALARS).is_file():
        raise ModelFileError(
            f"no checkpoint in {path}; run without --resume to start training from scratch"
        )
    try:
        tensors = load_file(str(path / TENSORS))
        meta = json.loads((path / SCALARS).read_text())
    except (SafetensorError, OSError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelFileError(
            f"the checkpoint in {path} is damaged ({exc}); run without --resume to start over"
        ) from None
    try:
        model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
    except RuntimeError as err:
        raise ModelFileError(
            f"the checkpoint in {path} is of another model ({str(err).splitlines()[-1].strip()}); "
            "resume with the data and settings it was trained with, or run without --resume"
        ) from None
    opt_meta = meta["optimizer"]
    state = {
        int(pid): {key: tensors[f"opt.{pid}.{key}"] for key in keys}
        for pid, keys in opt_meta["state"].items()
    }
    optimizer.load_state_dict({"state": state, "param_groups": opt_meta["param_groups"]})
    own = f"rng.torch.{rank}"
    for key in (own, "rng.torch.0", "rng.torch"):  # "rng.torch": written by earlier versions
        if key in tensors:
            torch.set_rng_state(tensors[key])
            break
    generator.set_state(tensors["rng.shuffle"])
    best = {k[5:]: v for k, v in tensors.items() if k.startswith("best.")}
    return meta["loop"], best or {k: v.clone() for k, v in model.state_dict().items()}
