"""A weight block larger than the machine's memory, refused before torch allocates it.

Where the kernel overcommits memory (``vm.overcommit_memory = 1``, common in containers),
torch's allocator grants a request of terabytes (a size setting given far too large, such as
``--hidden 100000000000``) and the process is killed by the kernel once the weights are
initialised: no error, no message. Asking first turns that into a ``MemoryError`` that the
command line reports in one line.
"""

from __future__ import annotations

import os

import torch
from torch import nn


def physical_memory() -> int | None:
    """Bytes of physical memory, or ``None`` where the system does not say (Windows)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None


def check_fits(shape: tuple[int, ...], what: str, itemsize: int = 4) -> None:
    """Raise ``MemoryError`` if one float32 tensor of ``shape`` alone exceeds physical
    memory (training needs several times that: gradients and optimiser moments). Nothing is
    checked while building on torch's ``meta`` device (shapes only, as a model folder's
    config is compared with its weights file), which allocates no memory."""
    if torch.empty(0).device.type == "meta":
        return
    numel = 1
    for n in shape:
        numel *= int(n)
    need, have = numel * itemsize, physical_memory()
    if have is not None and need > have:
        dims = " × ".join(f"{int(n):,}" for n in shape)
        raise MemoryError(
            f"can't allocate memory: the {what} of {dims} would allocate {need} bytes, more "
            f"than this machine's {have / 2**30:,.1f} GiB"
        )


def check_total(n_weights: int, copies: int, what: str, itemsize: int = 4) -> None:
    """Raise ``MemoryError`` if ``copies`` float32 copies of ``n_weights`` numbers exceed
    physical memory: a model whose blocks each fit but not all together (``copies=1``, checked
    before it is built), or one whose training state does not (``copies=4``: weights, their
    gradients and Adam's two moments, checked when the optimiser is made, before a step
    allocates them). Activations come on top and are not counted."""
    need, have = int(n_weights) * copies * itemsize, physical_memory()
    if have is not None and need > have:
        raise MemoryError(
            f"can't allocate memory: {what} would allocate {need} bytes ({int(n_weights):,} "
            f"weights × {copies} × {itemsize} bytes), more than this machine's "
            f"{have / 2**30:,.1f} GiB"
        )


def linear(n_in: int, n_out: int, bias: bool = True) -> nn.Linear:
    """``nn.Linear(n_in, n_out, bias)`` after :func:`check_fits` on its weight."""
    check_fits((n_out, n_in), "weights of a layer")
    return nn.Linear(n_in, n_out, bias=bias)
