"""What a fitted model's training history (one dict per epoch, ``history_``) says about the fit."""

from __future__ import annotations

import math
from collections.abc import Sequence


def kept_epoch(history: Sequence[dict], beta: float, metric: str = "elbo") -> int | None:
    """Epoch (1-based) whose weights training kept: lowest validation loss at the target β, or
    lowest validation classification loss (``metric`` = the config's ``early_stopping``)."""
    if metric == "classification":
        scored = [(r["val_classification"], r) for r in history if "val_classification" in r]
    else:
        scored = [
            (r["val_recon"] + beta * r["val_kl"], r)
            for r in history
            if "val_recon" in r and "val_kl" in r
        ]
    # as training chose: an epoch is kept when it beats the best so far, from ∞ (a NaN or ∞
    # never does; min() put a NaN first ahead of every later epoch)
    scored = [pair for pair in scored if pair[0] < math.inf]
    return int(min(scored, key=lambda pair: pair[0])[1]["epoch"]) if scored else None


def warmup_epochs(history: Sequence[dict], target: float | None = None) -> int:
    """Epochs of KL warm-up run: those with β below the ``target`` β (default: the last
    epoch's), plus the one reaching it."""
    if not history:
        return 0
    target = history[-1].get("beta", 0.0) if target is None else target
    below = sum(1 for r in history if r.get("beta", target) < target - 1e-12)
    return min(below + 1, len(history)) if below else 0


def unfinished_warmup(history: Sequence[dict], beta: float) -> str:
    """``", not reached: the last epoch trained at β 0.03"`` when training ended (at its
    ``epochs``) before the KL warm-up brought β to its target ``beta``; otherwise ``""``."""
    last = history[-1].get("beta", beta) if history else beta
    return f", not reached: the last epoch trained at β {last:.3g}" if last < beta else ""
