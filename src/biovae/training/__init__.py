"""Training: batch sources, the loop, checkpoints and seeding."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
from torch import nn

from biovae.record_noise import checked_seed
from biovae.training.allocator import tune_allocator
from biovae.training.checkpoint import ResumePastEnd, ResumeRefused
from biovae.training.divergence import Diverged
from biovae.training.loop import evaluate, fit_model
from biovae.training.sources import (
    BatchPasses,
    BatchSource,
    InMemorySource,
    StreamSource,
    epoch_batches,
    make_source,
    prefetched,
)


@contextlib.contextmanager
def seeded(seed: int, device: torch.device | None = None) -> Iterator[None]:
    """Run a block with torch's RNG seeded, restoring the caller's RNG state afterwards.

    Weight initialisation, dropout and reparameterisation noise all draw from it, so one seed
    fixes a whole fit without leaking global state. With a CUDA ``device`` its generator is
    seeded and restored too. ``seed`` must be in 0 .. 2**63 − 1 (a one-line error otherwise).
    """
    seed = checked_seed(seed)
    cuda = (
        [device]
        if device is not None
        and torch.device(device).type == "cuda"
        and torch.cuda.is_available()  # else training reports the missing GPU itself
        else []
    )
    with torch.random.fork_rng(devices=cuda):
        torch.manual_seed(seed)
        yield


@contextlib.contextmanager
def evaluating(model: object) -> Iterator[None]:
    """Run a block with ``model`` in eval mode, restoring each module's mode afterwards.

    Diagnostics measure the model as it predicts: dropout off and batch norm on its running
    statistics, which a batch seen in training mode would otherwise overwrite (even without
    gradients). A model straight out of :func:`fit_model` is still in training mode. Anything
    that is not a ``torch.nn.Module`` (a stand-in with ``encode``/``decode``) has no mode.
    """
    modes = [(m, m.training) for m in model.modules()] if isinstance(model, nn.Module) else []
    if modes:
        model.eval()
    try:
        yield
    finally:
        for m, mode in modes:
            m.training = mode


__all__ = [
    "BatchPasses",
    "BatchSource",
    "Diverged",
    "InMemorySource",
    "ResumePastEnd",
    "ResumeRefused",
    "StreamSource",
    "epoch_batches",
    "evaluate",
    "evaluating",
    "fit_model",
    "make_source",
    "prefetched",
    "seeded",
    "tune_allocator",
]
