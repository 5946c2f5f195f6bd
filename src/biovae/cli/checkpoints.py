"""The checkpoint folder of a training command (``biovae fit``, ``variants fit``, ``structure
fit``): ``MODEL.checkpoint`` beside the model, ``--resume`` refused without it, what a stopped
run says it left, and the folder removed once the model is saved."""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from biovae.errors import ConfigError


def add_resume_flag(p: argparse.ArgumentParser) -> None:
    """``--resume``: continue from ``MODEL.checkpoint``."""
    p.add_argument("--resume", action="store_true", help="continue from MODEL.checkpoint")


def checkpoint_folder(out: Path) -> Path:
    """Where a fit saved to ``out`` keeps its checkpoints."""
    return out.with_name(out.name + ".checkpoint")


def require_checkpoint(folder: Path, resume: bool) -> None:
    """``--resume`` needs the checkpoint folder (one line, exit status 2, before any work)."""
    if resume and not folder.is_dir():
        raise ConfigError(
            f"--resume: no checkpoint at {folder}; run once with --checkpoint-every N first"
        )


def stopped_note(folder: Path, kept: str | None, every: int, unit: str = "epoch") -> str:
    """What a stopped fit left to resume from: ``kept`` (e.g. "the checkpoint of epoch 2"; None:
    nothing) and the flag that continues from it, or that there is none (``every``: the
    checkpoint interval in ``unit``\\ s, 0 for off)."""
    if kept is not None:
        return (
            f"{kept} is kept in {folder}: rerun the same command with --resume to continue from it"
        )
    if every:
        return f"no checkpoint was written yet (the first comes after {unit} {every})"
    return "nothing was saved; add --checkpoint-every N to make a long fit resumable"


def epoch_note(folder: Path) -> str | None:
    """The checkpoint in ``folder`` as :func:`stopped_note` names it (None: none)."""
    from biovae.training.checkpoint import checkpoint_epoch

    epoch = checkpoint_epoch(folder)
    return None if epoch is None else f"the checkpoint of epoch {epoch}"


def remove_checkpoint(folder: Path) -> None:
    """Delete a fit's checkpoint folder once its model is saved, unless it holds anything but
    checkpoint files (someone else's files stay)."""
    from biovae.errors import ModelFileError
    from biovae.training.checkpoint import check_checkpoint_dir

    if not folder.is_dir():
        return
    try:
        check_checkpoint_dir(folder)
    except ModelFileError:
        return
    shutil.rmtree(folder, ignore_errors=True)
