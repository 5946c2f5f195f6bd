"""The optimiser every trainer uses: Adam, fused where torch has a fused kernel."""

from __future__ import annotations

from collections.abc import Iterable

import torch


def adam(params: Iterable, lr: float, weight_decay: float = 0.0) -> torch.optim.Adam:
    """``torch.optim.Adam`` with ``fused=True`` (one kernel for all parameters: 2–3× faster
    steps on CPU, deterministic) where the installed torch supports it, else the default."""
    params = list(params)
    try:
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay, fused=True)
    except (RuntimeError, TypeError):  # torch builds without fused Adam on this device
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
