"""Training checkpoints for ``--resume``: tensors in safetensors, the rest in JSON (no pickle)."""

from __future__ import annotations

import json
import math
import re
import shutil
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file
from torch import nn

from biovae._version import __version__
from biovae.config import TrainConfig
from biovae.data.folders import (
    foreign_entries,
    only_files,
    place_problem,
    restore_aside,
    write_dir,
)
from biovae.errors import ConfigError, ModelFileError
from biovae.persistence import write_weights
from biovae.setting_names import KEYWORDS, Wording, setting, settings
from biovae.training.optim import Adam

TENSORS = "state.safetensors"
SCALARS = "state.json"
#: the resume switch, named for both audiences: the command's flag, ``fit``'s keyword
RESUME = "--resume (resume=True)"
#: what a resume of ``biovae fit`` (or an estimator's ``fit``) may change
FIT_MAY_CHANGE = settings("train.epochs", "train.device", "train.checkpoint_every", "data.stream")


@dataclass
class LoopState:
    """Mutable state of the loop that a checkpoint must carry. ``kernels``: the compiled
    likelihood kernels' minimum input size the fit runs them for (None: eager; see
    :func:`biovae.likelihoods.fused.decide`)."""

    epoch: int = 0
    history: list[dict[str, float]] = field(default_factory=list)
    best: float = math.inf
    best_epoch: int = -1
    bad_epochs: int = 0
    kernels: int | None = None

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


class ResumeRefused(ModelFileError):
    """A resume refused because the checkpoint in ``path`` was made with other data or
    settings (``what`` differs); the message names the flags that ``may_change``. A command
    with other flags than ``biovae fit``'s names its own with :meth:`reworded`."""

    def __init__(self, path: Path, what: str, may_change: str):
        self.path, self.what = path, what
        super().__init__(
            f"the checkpoint in {path} was made with other data or settings: {what}; resume "
            f"with the same data and settings (only {may_change} may change), or run without "
            f"{RESUME}"
        )

    def reworded(self, wording: Wording) -> ResumeRefused:
        """The same refusal, naming ``wording.may_change`` as what a resume may change."""
        return ResumeRefused(self.path, self.what, wording.may_change)


class ResumePastEnd(ModelFileError):
    """A resume of a checkpoint at ``epoch``, past the fit's ``epochs``: worded with the
    estimator's ``keywords`` (:func:`~biovae.setting_names.python_name`)."""

    def __init__(self, path: Path, epoch: int, epochs: int, keywords: dict[str, str] = KEYWORDS):
        self.path, self.epoch, self.epochs = path, epoch, epochs
        past, enough = (setting("train.epochs", n, keywords) for n in (epochs, epoch))
        super().__init__(
            f"the checkpoint in {path} is at epoch {epoch}, past {past}; resume with {enough} "
            "or more"
        )

    def reworded(self, wording: Wording) -> ResumePastEnd:
        """The same refusal, naming the epochs by ``wording.keywords``."""
        return ResumePastEnd(self.path, self.epoch, self.epochs, wording.keywords)


def resumed_state(loop: Any, path: Path, config: TrainConfig, kernels: int | None) -> LoopState:
    """The checkpoint's loop state, checked: a resume goes on to ``config.epochs``, with the
    ``kernels`` this fit decided on. ``train.compile = "auto"`` decides on the planned epochs,
    so another ``--epochs`` can switch the NB/ZINB kernels between eager and compiled forms,
    whose float32 rounding differs: a fit with epochs left to train then resumes with a
    warning that it may not match an uninterrupted fit bit for bit (a checkpoint of an
    earlier version records no kernels)."""
    try:
        state = LoopState(**loop)
        epoch = int(state.epoch)
    except (TypeError, ValueError) as exc:
        raise ModelFileError(
            f"the checkpoint in {path} is damaged ({exc}); run without {RESUME} to start over"
        ) from None
    if epoch > config.epochs:
        raise ResumePastEnd(path, epoch, config.epochs)
    stopped = bool(config.patience) and state.bad_epochs >= config.patience
    if "kernels" in loop and state.kernels != kernels and epoch < config.epochs and not stopped:
        forms = ["eager" if k is None else "compiled" for k in (state.kernels, kernels)]
        warnings.warn(
            f"the checkpoint in {path} was trained with {forms[0]} NB/ZINB kernels and this "
            f"fit of {config.epochs} epochs runs {forms[1]} ones (train.compile auto decides "
            "on the planned epochs): the fit resumes, but may not match an uninterrupted fit "
            f"bit for bit; resume with the first run's {setting('train.epochs')} to keep its "
            "kernels",
            stacklevel=3,
        )
    state.kernels = kernels
    return state


def save_checkpoint(
    path: Path,
    model: nn.Module,
    optimizer: Adam,
    generator: torch.Generator,
    state: dict[str, Any],
    best: dict[str, torch.Tensor] | None = None,
    rng_states: dict[str, list[torch.Tensor]] | None = None,
    identity: dict[str, Any] | None = None,
) -> None:
    """Atomically write model, optimizer, RNG states and loop ``state`` to folder ``path``;
    ``best``: the weights of the best epoch so far (restored at the end of a resumed fit);
    ``rng_states``: torch's RNG states of every rank by generator (``"torch"``: the CPU's,
    default this process's; ``"cuda"``: the GPU's, when training on one); ``identity``:
    what a resume must match (JSON-ready; see :func:`load_checkpoint`)."""
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
    for name, states in (rng_states or {"torch": [torch.get_rng_state()]}).items():
        for rank, rng in enumerate(states):
            tensors[f"rng.{name}.{rank}"] = rng.contiguous()
    tensors["rng.shuffle"] = generator.get_state()
    meta = {
        "loop": state,
        "optimizer": opt_meta,
        "identity": identity or {},
        "versions": _versions(),
    }
    check_checkpoint_dir(path)
    remove_legacy_leftovers(path.parent)
    write_dir(path, lambda tmp: _write_files(tmp, tensors, meta), (TENSORS, SCALARS))


def _write_files(folder: Path, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
    write_weights(folder / TENSORS, tensors)
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


def checkpoint_epoch(path: Path) -> int | None:
    """The epoch the checkpoint in folder ``path`` was written after, or None when there is
    none (or it cannot be read)."""
    try:
        return int(json.loads((path / SCALARS).read_text())["loop"]["epoch"])
    except (OSError, ValueError, TypeError, KeyError):
        return None


def check_checkpoint_args(path: Path | None, resume: bool, every: int) -> None:
    """Checkpoint arguments that would do nothing are refused, not silently ignored: a resume
    without the folder to resume from (it would train from scratch), a folder without an
    interval ``every`` (it would get no checkpoint, and a fit killed later nothing to resume)."""
    if resume and path is None:
        raise ConfigError(
            "resume=True needs checkpoint_dir, the folder the interrupted fit wrote its "
            "checkpoints to; give it, or leave resume out to train from scratch"
        )
    if path is not None and not resume and every == 0:
        raise ConfigError(
            f"checkpoint_dir {path} would get no checkpoint with train.checkpoint_every 0; set "
            "it to N > 0 to write one every N epochs, or leave checkpoint_dir out"
        )


def check_checkpoint_dir(path: Path) -> None:
    """``path`` may hold checkpoints: it does not exist, is empty, or holds an earlier
    checkpoint and nothing else (saving replaces the folder); nor is it a link to nothing or
    the current folder (:func:`biovae.data.folders.place_problem`)."""
    problem = place_problem(path)
    if problem:
        raise ModelFileError(f"checkpoint folder {path} {problem}")
    if not path.exists():
        return
    if not path.is_dir():
        raise ModelFileError(f"checkpoint folder {path} is a file; choose another folder")
    others = foreign_entries(path, (TENSORS, SCALARS))
    if others:
        raise ModelFileError(
            f"checkpoint folder {path} holds {others[0]!r}, which checkpointing would delete; "
            "choose an empty or new folder for checkpoints"
        )


def load_checkpoint(
    path: Path,
    model: nn.Module,
    optimizer: Adam,
    generator: torch.Generator,
    rank: int = 0,
    identity: dict[str, Any] | None = None,
    device: torch.device | None = None,
    may_change: str | None = None,
) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """Restore what :func:`save_checkpoint` wrote (RNG: this ``rank``'s state, and its GPU's
    when training continues on a ``device`` of type cuda and the checkpoint has one); returns the
    loop state and the best weights so far (the model's, if the checkpoint holds none). A
    checkpoint whose recorded ``identity`` differs from this one (other data or settings) is
    refused, naming the first difference and the flags that ``may_change`` (words); so is one
    that parses but is incomplete. A checkpoint that a run killed while replacing it left aside
    is put back first."""
    restore_aside(path, (TENSORS, SCALARS))
    if not (path / TENSORS).is_file() or not (path / SCALARS).is_file():
        raise ModelFileError(
            f"no checkpoint in {path}; run without {RESUME} to start training from scratch"
        )
    try:
        tensors = load_file(str(path / TENSORS))
        meta = json.loads((path / SCALARS).read_text())
    except (SafetensorError, OSError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelFileError(
            f"the checkpoint in {path} is damaged ({exc}); run without {RESUME} to start over"
        ) from None
    if not isinstance(meta, dict) or not isinstance(meta.get("optimizer"), dict):
        raise ModelFileError(
            f"the checkpoint in {path} is damaged (no optimizer state); run without {RESUME}"
        )
    current = json.loads(json.dumps(identity or {}))
    _check_identity(path, meta.get("identity") or {}, current, may_change or FIT_MAY_CHANGE)
    _warn_of_versions(path, meta.get("versions"))
    try:
        model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
    except RuntimeError as err:
        raise ModelFileError(
            f"the checkpoint in {path} is of another model ({str(err).splitlines()[-1].strip()}); "
            f"resume with the data and settings it was trained with, or run without {RESUME}"
        ) from None
    try:
        _restore_optimizer(optimizer, meta["optimizer"], tensors)
        own = f"rng.torch.{rank}"
        for key in (own, "rng.torch.0", "rng.torch"):  # "rng.torch": written by earlier versions
            if key in tensors:
                torch.set_rng_state(tensors[key])
                break
        if device is not None and device.type == "cuda" and f"rng.cuda.{rank}" in tensors:
            torch.cuda.set_rng_state(tensors[f"rng.cuda.{rank}"], device)
        generator.set_state(tensors["rng.shuffle"])
    except (KeyError, TypeError, ValueError, RuntimeError, AttributeError) as exc:
        raise ModelFileError(
            f"the checkpoint in {path} is damaged ({type(exc).__name__}: {exc}); run without "
            f"{RESUME} to start over"
        ) from None
    best = {k[5:]: v for k, v in tensors.items() if k.startswith("best.")}
    return meta["loop"], best or {k: v.clone() for k, v in model.state_dict().items()}


def _restore_optimizer(optimizer: Adam, opt_meta: dict, tensors: dict[str, torch.Tensor]) -> None:
    """Adam's state from the checkpoint, each moment the shape of its parameter (a damaged
    file of other shapes would otherwise reach the fused kernel, which does not check)."""
    params = [p for group in optimizer.param_groups for p in group["params"]]
    state = {}
    for pid, keys in opt_meta["state"].items():
        entry = {key: tensors[f"opt.{pid}.{key}"] for key in keys}
        for key, value in entry.items():
            if key != "step" and value.shape != params[int(pid)].shape:
                raise ValueError(f"optimizer state {key} of parameter {pid} has another shape")
        state[int(pid)] = entry
    optimizer.load_state_dict({"state": state, "param_groups": opt_meta["param_groups"]})


def _versions() -> dict[str, str]:
    return {"biovae": __version__, "torch": torch.__version__}


def _warn_of_versions(path: Path, saved: Any) -> None:
    """A checkpoint written by another biovae or torch resumes (earlier checkpoints stay
    usable), but its arithmetic may differ: the resumed fit is then not bit for bit the
    uninterrupted one, which a one-line warning says (a checkpoint of an earlier version
    records no versions)."""
    if not isinstance(saved, dict):
        return
    now = _versions()
    diff = [f"{k} {saved.get(k)} there, {v} now" for k, v in now.items() if saved.get(k) != v]
    if diff:
        warnings.warn(
            f"the checkpoint in {path} was written by another version ({'; '.join(diff)}): "
            "the fit resumes, but may not match an uninterrupted fit bit for bit",
            stacklevel=2,
        )


def _check_identity(
    path: Path, saved: dict[str, Any], current: dict[str, Any], may_change: str
) -> None:
    """Refuse a resume whose data or settings differ from the checkpoint's (a checkpoint of an
    earlier version records none)."""
    if not saved:
        return
    for key in sorted(set(saved) | set(current)):
        a, b = saved.get(key), current.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            diff = [k for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]
            what = (
                f"{key}.{diff[0]} ({a.get(diff[0])!r} there, {b.get(diff[0])!r} now)"
                if diff
                else ""
            )
        else:
            what = f"{key} ({a!r} there, {b!r} now)" if a != b else ""
        if what:
            raise ResumeRefused(path, what, may_change)
