"""What a fitted model's training history (one dict per epoch, ``history_``) says about the fit."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


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


#: the fewest epochs whose loss trend can be read (fewer: too few to tell)
MIN_TREND_EPOCHS = 5
#: the least fall over the trend's window, relative to the loss's magnitude, that counts
TREND_TOLERANCE = 1e-3
#: how many standard errors below zero the slope must lie to count as falling
TREND_T = -2.0


@dataclass(frozen=True)
class LossTrend:
    """The trend of a fit's loss over its last ``epochs`` epochs (:func:`loss_trend`):
    ``split`` ("validation" or "training"), the least-squares ``change`` over the window
    relative to the loss's magnitude (negative: falling), the slope's ``t`` (slope / its
    standard error) and the verdict ``falling`` (None: fewer than :data:`MIN_TREND_EPOCHS`
    finite epochs, too few to tell); ``left_out``: epochs whose loss was not finite (NaN or
    ±∞), left out of the trend, and ``read``: the epochs whose loss was read (finite)."""

    split: str
    epochs: int
    change: float = math.nan
    t: float = math.nan
    falling: bool | None = None
    left_out: int = 0
    read: int = 0
    fall: float = math.nan  # the least-squares fall over the window, in the loss's units

    @property
    def diverged(self) -> bool:
        """Whether the loss was not finite in so many epochs that the trend says nothing: too
        few finite epochs left to read it, or more non-finite epochs than finite ones."""
        return self.left_out > 0 and (self.read < MIN_TREND_EPOCHS or self.left_out > self.read)


def loss_series(
    history: Sequence[dict], beta: float, metric: str = "elbo", *, free_bits: float = 0.0
) -> tuple[str, list]:
    """The loss whose trend tells whether a fit settled, one value per epoch that recorded it
    (not finite where the epoch's loss was NaN or ±∞: :func:`loss_trend` leaves those out and
    counts them), and its split: the validation loss where the history has one, else the
    training loss.

    The loss is the objective trained at the target ``beta``, as the history records it:

    * the ELBO: reconstruction + ``beta``·KL (``val_recon``/``val_kl``, or ``recon``/``kl``),
      at the target β so that a KL warm-up's rising β does not read as a trend, which is the
      loss the weights were kept by (the history's ``loss`` where those are missing);
    * the IWAE-k bound (``objective.iwae_samples`` > 1): the same columns, as training records
      −IWAE-k as the reconstruction and 0 as the KL (and β stays 1), so this is −IWAE-k;
    * free bits (``free_bits`` λ > 0): the history's ``val_loss``/``loss``, reconstruction +
      β·Σ_k max(λ, KL_k) (the batch mean of KL_k), which reconstruction + β·KL is not where a
      dimension's KL lies below λ; it is recorded at the epoch's β, so only the epochs trained
      at the target β (after any KL warm-up) are in the series;
    * early stopping on the classification loss (``metric`` "classification"): the
      validation classification loss training chose its weights by.

    An epoch whose row lacks the loss's columns has no value in the series: a loss not
    recorded is not a loss that was not finite."""
    validated = bool(history) and "val_recon" in history[-1]
    split, pre = ("validation", "val_") if validated else ("training", "")
    metric = metric if validated else "elbo"
    if free_bits > 0 and metric != "classification":
        at_target = [r for r in history if r.get("beta", beta) >= beta - 1e-12]
        return split, [float(r[f"{pre}loss"]) for r in at_target if f"{pre}loss" in r]
    values = [_epoch_loss(r, pre, beta, metric) for r in history]
    return split, [v for v in values if v is not None]


def _epoch_loss(row: dict, pre: str, beta: float, metric: str) -> float | None:
    if metric == "classification" and f"{pre}classification" in row:
        return float(row[f"{pre}classification"])
    if f"{pre}recon" in row and f"{pre}kl" in row:
        return float(row[f"{pre}recon"] + beta * row[f"{pre}kl"])
    return float(row[f"{pre}loss"]) if f"{pre}loss" in row else None


def loss_trend(
    history: Sequence[dict], beta: float, metric: str = "elbo", *, free_bits: float = 0.0
) -> LossTrend:
    """Whether the fit of ``history`` ended with its loss (:func:`loss_series`) still falling.

    The rule: fit a least-squares line to the loss of the last k = max(5, ⌈20 % of the
    epochs⌉) epochs; the loss is still falling only when the line's fall over those k epochs
    (−slope·k) exceeds :data:`TREND_TOLERANCE` (0.1 %) of the loss's mean magnitude there
    *and* the slope lies more than 2 standard errors below zero (t < −2), so neither a last
    epoch that happens to be the lowest of a noisy plateau nor one noisy bounce up of a
    loss still dropping decides. Epochs whose loss is not finite (NaN or ±∞) are left out and
    counted (``left_out``); fewer than 5 finite epochs: too few to tell (``falling`` None).
    ``free_bits``: the fit's ``objective.free_bits`` (:func:`loss_series` reads its loss)."""
    split, series = loss_series(history, beta, metric, free_bits=free_bits)
    losses = [v for v in series if math.isfinite(v)]
    n, left_out = len(losses), len(series) - len(losses)
    if n < MIN_TREND_EPOCHS:
        return LossTrend(split, n, left_out=left_out, read=n)
    k = max(MIN_TREND_EPOCHS, -(-n // 5))
    y = np.asarray(losses[-k:], dtype=np.float64)
    t = np.arange(k) - (k - 1) / 2
    slope = float(t @ (y - y.mean()) / (t @ t))
    residual = y - y.mean() - slope * t
    se = math.sqrt(float(residual @ residual) / (k - 2) / float(t @ t))
    t_stat = slope / se if se > 0 else math.copysign(math.inf, slope) if slope else 0.0
    scale = abs(float(y.mean()))
    change = slope * k / scale if scale > 0 else math.copysign(math.inf, slope) if slope else 0.0
    falling = change < -TREND_TOLERANCE and t_stat < TREND_T
    return LossTrend(split, k, change, t_stat, falling, left_out, n, fall=-slope * k)
