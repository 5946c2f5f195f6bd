"""Networks rebuilt from a model folder: the config's model is first built on torch's ``meta``
device (shapes only, no memory) and its tensors' names, shapes and dtypes are compared with the
weights file's before the real one is built and filled.

So a ``config.json`` edited to ask for other (or absurd) sizes is a one-line error rather than
a traceback or gigabytes allocated, and a tensor of another dtype is refused rather than cast
on loading (``load_state_dict`` copies an int tensor into float weights, or float16 into
float32, without a word: a silently different model).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn


def rebuilt(
    build: Callable[[], nn.Module],
    weights: dict[str, torch.Tensor],
    error: Callable[[str], Exception],
) -> nn.Module:
    """``build()`` holding ``weights``, in eval mode.

    ``error(problem)``: the exception to raise when the config builds no model (``problem``
    says why) or one whose tensors differ from ``weights`` (``problem`` names the first one).
    """
    try:
        with torch.device("meta"):
            skeleton = build()
    except (TypeError, ValueError, OverflowError, RuntimeError) as exc:
        reason = (str(exc).splitlines() or [type(exc).__name__])[0]
        raise error(f"config.json builds no model: {reason[:160]}") from None
    problem = mismatch(skeleton.state_dict(), weights)
    if problem is not None:
        raise error(problem)
    model = build()
    model.load_state_dict(weights)
    return model.eval()


def mismatch(expected: dict[str, torch.Tensor], weights: dict[str, torch.Tensor]) -> str | None:
    """The first tensor of ``weights`` that is missing, extra, or of another shape or dtype
    than in ``expected`` (a model's ``state_dict``), in words; None when all fit."""
    missing = sorted(set(expected) - set(weights))
    if missing:
        return f"tensor {missing[0]!r} is missing"
    extra = sorted(set(weights) - set(expected))
    if extra:
        return f"tensor {extra[0]!r} is not part of the model"
    for name, want in expected.items():
        got = weights[name]
        if got.shape != want.shape or got.dtype != want.dtype:
            return (
                f"tensor {name!r} is {got.dtype} {tuple(got.shape)} where the config's model has "
                f"{want.dtype} {tuple(want.shape)}"
            )
    return None
