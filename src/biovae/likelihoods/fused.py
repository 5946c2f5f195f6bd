"""Element-wise kernels fused by ``torch.compile`` on CPU during long trainings (the NB/ZINB
log-density here; the draw of variational decoder weights in
:mod:`biovae.applications.variants.model`).

Eager PyTorch makes one pass over memory per operation, and its ``lgamma``/``digamma`` are
scalar code on CPU: the NB log-density of a 128 × 2,000 batch and its gradient take about 40
passes. Compiled, the same formulas (written with :func:`~.special.lgamma_series` and
:func:`~.special.digamma_series`, which the compiler vectorises) run as a few fused loops:
about 1.5 ms instead of 4–6 ms for forward + backward on two cores.

Compiling costs seconds once per process: importing torch's compiler front end
(``torch._dynamo``, 1.3–1.7 s on two cores, which an eager fit no longer pays: see
:mod:`biovae.training.optim`) and compiling, about 2 s when torch's on-disk cache has the kernels
and 5–7 s the first time on a machine; measured together in fresh processes, 4.4 s (warm cache)
to 7.7 s. The fused kernels save 1.7–2.6 ms per step of a 128 × 2,000 batch (forward and
backward 1.9–2.8 ms instead of 4.5–4.8), about 8 ns per value, so compiling pays after about
5·10⁸ values have gone through them. The training loop decides
(:func:`decide`, ``train.compile``) and switches the kernels on for the fit with
:func:`enabled`; everything else (scoring, short fits, other dtypes and devices) runs the eager
form. A compiler failure (no C++ compiler, an unsupported platform) warns once and leaves the
kernel eager.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable, Iterator
from contextvars import ContextVar

import torch

#: Smallest input (elements of the first argument) that ``compile = "auto"`` compiles for.
MIN_NUMEL = 1 << 15
#: Values a fit must push through the kernels (planned steps × batch elements) for
#: ``compile = "auto"`` to compile: about 2,000 steps of 128 × 2,000, i.e. ≈ 4 s saved at
#: 8 ns per value against ≈ 4.4 s of importing the compiler and compiling (warm cache).
MIN_WORK = 500_000_000

#: Minimum input size for the compiled form inside :func:`enabled`; None = eager only.
_ACTIVE: ContextVar[int | None] = ContextVar("biovae_fused_kernels", default=None)


def decide(mode: str, steps: int, batch_numel: int, min_work: int = MIN_WORK) -> int | None:
    """The minimum input size to compile for under ``train.compile = mode`` (None = never):
    ``on`` always, ``off`` never, ``auto`` when a batch has ≥ :data:`MIN_NUMEL` elements and
    ``steps`` × ``batch_numel`` ≥ ``min_work`` (the kernel's break-even, :data:`MIN_WORK` for
    the NB kernels)."""
    if mode == "on":
        return 0
    if mode == "auto" and batch_numel >= MIN_NUMEL and steps * batch_numel >= min_work:
        return MIN_NUMEL
    return None


@contextlib.contextmanager
def enabled(min_numel: int | None) -> Iterator[None]:
    """Within the block, kernels take their compiled form for float32 CPU inputs of at least
    ``min_numel`` elements (None: eager only). Scoped like ``torch.no_grad``."""
    token = _ACTIVE.set(min_numel)
    try:
        yield
    finally:
        _ACTIVE.reset(token)


def active(first: torch.Tensor) -> bool:
    """Whether a kernel called now with ``first`` as its first argument runs compiled."""
    min_numel = _ACTIVE.get()
    return (
        min_numel is not None
        and first.dtype == torch.float32
        and first.device.type == "cpu"
        and first.numel() >= min_numel
    )


class FusedKernel:
    """``fused`` compiled on first use, or ``eager``: the same function of the same arguments.

    The compiled form is a cache of this process (no data, no randomness); which form runs is
    the caller's choice (:func:`active`), so a saved decision keeps forward and backward on the
    same form.
    """

    def __init__(self, fused: Callable, eager: Callable) -> None:
        self.fused, self.eager = fused, eager
        self._compiled: Callable | None = None
        self.failure: str | None = None  # why compiling failed, once it has

    def __call__(self, compiled: bool, *args):
        if not compiled or self.failure is not None:
            return self.eager(*args)
        if self._compiled is None:
            self._compiled = torch.compile(self.fused, dynamic=True)
        try:
            return self._compiled(*args)
        except Exception as err:  # a compiler failure of any kind: go eager
            out = self.eager(*args)  # re-raises here if the inputs, not the compiler, were wrong
            self.failure = f"{type(err).__name__}: {err}".splitlines()[0][:300]
            warnings.warn(
                f"biovae: torch.compile failed ({self.failure}); using the eager kernel "
                "(train.compile = 'off' skips compiling)",
                RuntimeWarning,
                stacklevel=2,
            )
            return out
