"""Checkpoints of a family fit (``biovae variants fit --checkpoint-every N`` / ``--resume``).

They use the training checkpoints' format and code (:mod:`biovae.training.checkpoint`:
safetensors + JSON, no pickle, atomic folders, refused when the data or settings differ), one
folder per ensemble member, ``FOLDER/member{i}``: the member in training writes its state
every ``every`` updates, and each member writes its final model when it finishes, so a resumed
ensemble loads its finished members, continues the one in progress from its last checkpoint
and trains the rest.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch

from biovae.applications.variants.config import VariantsConfig
from biovae.config import to_dict
from biovae.data.folders import only_files, place_problem
from biovae.errors import ConfigError, ModelFileError
from biovae.training.checkpoint import (
    SCALARS,
    TENSORS,
    check_checkpoint_dir,
    load_checkpoint,
    save_checkpoint,
)
from biovae.training.optim import Adam

#: what a resumed family fit may change: where it trains, and how many members it has
MAY_CHANGE = "--device, --ensemble and --checkpoint-every"
_MEMBER = re.compile(r"member(\d+)")
_LEFTOVER = re.compile(r"\.member\d+\.(tmp|old)-[0-9a-f]{8}")  # of a killed atomic write


@dataclass(frozen=True)
class FamilyCheckpoints:
    """Where (``folder``) and how often (``every`` updates; 0: only when a member finishes) a
    family fit writes checkpoints, and whether it ``resume``\\ s from those there."""

    folder: Path
    every: int = 0
    resume: bool = False

    def __post_init__(self) -> None:
        if self.every < 0:
            raise ConfigError(f"--checkpoint-every must be >= 0 updates, not {self.every}")

    def prepare(self) -> None:
        """Before any training: the folder holds only member checkpoints (else a one-line
        error); a resume finds at least one; a fresh fit drops those of an earlier run."""
        members = member_folders(self.folder)
        if self.resume and not members:
            raise ModelFileError(
                f"no checkpoint in {self.folder}; run without --resume to train from scratch"
            )
        if not self.resume:
            for path in members.values():
                shutil.rmtree(path, ignore_errors=True)

    def member(self, index: int, data: str, config: VariantsConfig) -> MemberCheckpoint:
        """The checkpoint of member ``index`` (0-based) of a fit of ``config`` on the
        alignment of fingerprint ``data``."""
        train = replace(config.train, seed=config.train.seed + index)
        identity = {
            "data": data,
            "alignment": to_dict(config.alignment),
            "model": to_dict(config.model),
            "train": {k: v for k, v in to_dict(train).items() if k != "device"},
            "member": index,
        }
        return MemberCheckpoint(self.folder / f"member{index}", self.every, self.resume, identity)


@dataclass
class MemberState:
    """What a member's training loop carries from update to update (JSON-ready): updates done,
    training seconds, the running ELBO/KL sums of the current 100 updates, the values shown on
    the bar, the history so far, the held-out keeper's best value (None: none yet) and
    evaluations without improvement; ``finished``: the checkpoint holds the final model."""

    step: int = 0
    elapsed: float = 0.0
    sums: list[float] = field(default_factory=lambda: [0.0, 0.0])
    shown: dict[str, float] = field(default_factory=dict)
    history: list[dict[str, float]] = field(default_factory=list)
    best_value: float | None = None
    stale: int = 0
    finished: bool = False


@dataclass(frozen=True)
class MemberCheckpoint:
    """One member's checkpoint folder, interval, resume flag and what a resume must match."""

    path: Path
    every: int
    resume: bool
    identity: dict[str, Any]

    def due(self, step: int) -> bool:
        return self.every > 0 and step % self.every == 0

    def save(
        self,
        model: torch.nn.Module,
        optimizer: Adam,
        generator: torch.Generator,
        state: MemberState,
        best: dict[str, torch.Tensor] | None = None,
    ) -> None:
        """Write the member's state atomically (``best``: the held-out keeper's weights)."""
        device = next(model.parameters()).device
        rng = {"torch": [torch.get_rng_state()]}
        if device.type == "cuda":
            rng["cuda"] = [torch.cuda.get_rng_state(device)]
        self.path.parent.mkdir(exist_ok=True)
        save_checkpoint(
            self.path, model, optimizer, generator, dict(state.__dict__), best, rng, self.identity
        )

    def load(
        self, model: torch.nn.Module, optimizer: Adam, generator: torch.Generator
    ) -> tuple[MemberState, dict[str, torch.Tensor] | None] | None:
        """Restore model, optimizer and random states; the loop state and the keeper's best
        weights (None without), or None when there is nothing to resume from (no resume, or
        a member that had not started)."""
        if not self.resume or not self.path.exists():
            return None
        device = next(model.parameters()).device
        loop, best = load_checkpoint(
            self.path, model, optimizer, generator, 0, self.identity, device, MAY_CHANGE
        )
        try:
            state = MemberState(**loop)
            state.step, state.stale = int(state.step), int(state.stale)
        except (TypeError, ValueError) as exc:
            raise ModelFileError(
                f"the checkpoint in {self.path} is damaged ({exc}); run without --resume to "
                "start over"
            ) from None
        if state.best_value is None:
            return state, None
        return state, {k: v.to(device) for k, v in best.items()}


def member_folders(folder: Path) -> dict[int, Path]:
    """The member checkpoints in ``folder`` by member index (none when it does not exist); a
    folder holding anything else is refused in one line (a fit never deletes a user's files)."""
    problem = place_problem(folder)
    if problem:
        raise ModelFileError(f"checkpoint folder {folder} {problem}")
    if not folder.exists():
        return {}
    if not folder.is_dir():
        raise ModelFileError(f"checkpoint folder {folder} is a file; move it away")
    found = {}
    for path in sorted(folder.iterdir()):
        match = _MEMBER.fullmatch(path.name)
        if match and path.is_dir() and not path.is_symlink():
            check_checkpoint_dir(path)
            found[int(match[1])] = path
        elif not (_LEFTOVER.fullmatch(path.name) and only_files(path, (TENSORS, SCALARS))):
            raise ModelFileError(
                f"checkpoint folder {folder} holds {path.name!r}, which is no member checkpoint; "
                "move it away or give another --out"
            )
    return found


def progress_note(folder: Path) -> str | None:
    """What the checkpoints in ``folder`` hold, e.g. ``member 1 finished, member 2 at update
    400`` (None: none, or unreadable)."""
    import json

    try:
        members = member_folders(folder)
    except ModelFileError:
        return None
    parts = []
    for index, path in members.items():
        try:
            loop = json.loads((path / SCALARS).read_text())["loop"]
            done = "finished" if loop["finished"] else f"at update {int(loop['step'])}"
        except (OSError, ValueError, TypeError, KeyError):
            continue
        parts.append(f"member {index + 1} {done}")
    return ", ".join(parts) or None


def remove_checkpoints(folder: Path) -> None:
    """Delete ``folder`` once the model is saved, unless it holds anything but checkpoints."""
    try:
        member_folders(folder)
    except ModelFileError:
        return
    if folder.is_dir():
        shutil.rmtree(folder, ignore_errors=True)
