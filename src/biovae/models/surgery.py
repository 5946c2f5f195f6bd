"""Architecture surgery for reference mapping (scArches; Lotfollahi et al. 2022, *Nature
Biotechnology* 40:121): a conditional model grows input columns for new levels of its
categorical covariates, keeps every reference weight, and trains only the new ones.

Covariates enter every covariate-reading layer as the last columns of its input, one-hot
blocks of the categorical covariates first (levels in order), then the continuous ones. New
levels are appended at the end of their block, so an old level's column moves only by the new
levels of the blocks before it. The new columns start at zero: until they are trained, a
record of a new level is treated as belonging to no known level.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from biovae.errors import ConfigError
from biovae.levels import aliases
from biovae.models.covariates import CovariateSpec


@dataclass(frozen=True)
class ColumnMap:
    """Where each old covariate column lands in the extended encoding, and the new columns."""

    old_to_new: np.ndarray  # (old width,) int
    new: np.ndarray  # indices of the new columns
    width: int  # extended width
    first_block: tuple[int, int]  # (old, new) number of levels of the first categorical


def extend_levels(cov: CovariateSpec, levels: dict[str, list[str]]) -> CovariateSpec:
    """``cov`` with ``levels[name]`` (not yet known) appended to categorical ``name``."""
    cats = tuple(
        (*old, *sorted(set(levels.get(name, ())) - set(aliases(old))))
        for name, old in zip(cov.categorical, cov.categories)
    )
    return dataclasses.replace(cov, categories=cats)


def column_map(old: CovariateSpec, new: CovariateSpec) -> ColumnMap:
    """The :class:`ColumnMap` from ``old``'s encoding to ``new``'s (``new`` extends ``old``)."""
    mapping, start_old, start_new = [], 0, 0
    for a, b in zip(old.categories, new.categories):
        mapping.extend(range(start_new, start_new + len(a)))
        start_old, start_new = start_old + len(a), start_new + len(b)
    mapping.extend(range(start_new, start_new + len(old.continuous)))
    old_to_new = np.asarray(mapping, dtype=np.int64)
    new_cols = np.setdiff1d(np.arange(new.width), old_to_new)
    first = (len(old.categories[0]), len(new.categories[0])) if old.categories else (0, 0)
    return ColumnMap(old_to_new, new_cols, new.width, first)


@torch.no_grad()
def transplant(old: nn.Module, new: nn.Module, cmap: ColumnMap) -> dict[str, torch.Tensor]:
    """Copy ``old``'s weights into ``new`` (built for the extended covariates) and return, per
    grown parameter, a mask of its new (trainable) entries.

    Grown parameters are the weights of covariate-reading layers (input columns) and per-batch
    dispersion rows (one per level of the first categorical covariate; a new row starts at the
    mean of the reference's rows).
    """
    old_sd, masks = old.state_dict(), {}
    n_old = len(cmap.old_to_new)
    for name, t in new.state_dict().items():
        src = old_sd[name]
        if src.shape == t.shape:
            t.copy_(src)
        elif (
            t.dim() == 2
            and t.shape[0] == src.shape[0]
            and t.shape[1] - src.shape[1] == (cmap.width - n_old)
        ):
            lead = src.shape[1] - n_old  # the layer's non-covariate inputs come first
            t.zero_()
            t[:, :lead] = src[:, :lead]
            t[:, lead + torch.from_numpy(cmap.old_to_new)] = src[:, lead:]
            masks[name] = _columns(t, lead + cmap.new)
        elif t.shape[1:] == src.shape[1:] and (src.shape[0], t.shape[0]) == cmap.first_block:
            t[: src.shape[0]] = src
            t[src.shape[0] :] = src.mean(dim=0)
            masks[name] = torch.zeros_like(t, dtype=torch.bool)
            masks[name][src.shape[0] :] = True
        else:
            raise ConfigError(
                f"cannot map parameter {name} of shape {tuple(src.shape)} onto "
                f"{tuple(t.shape)}; this model kind does not support reference mapping"
            )
    return masks


def _columns(t: torch.Tensor, cols: np.ndarray) -> torch.Tensor:
    mask = torch.zeros_like(t, dtype=torch.bool)
    mask[:, torch.from_numpy(cols)] = True
    return mask


def freeze_except(model: nn.Module, masks: dict[str, torch.Tensor]) -> Callable[[], None]:
    """Train only the masked entries of ``model``; returns the function that undoes this.

    Other parameters stop requiring gradients and masked ones get their gradient multiplied by
    the mask. Batch-norm layers stay in inference mode: the reference's statistics normalise
    the query as they will at inference. (In training mode a query of one new batch would be
    normalised by its own minibatch statistics, which cancel exactly the constant shift its
    new one-hot column adds, so the new weights could not learn.)
    """
    hooks, frozen = [], []
    for name, p in model.named_parameters():
        if name in masks:
            hooks.append(p.register_hook(_masking(masks[name].to(p.dtype))))
        elif p.requires_grad:
            p.requires_grad_(False)
            frozen.append(p)
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    for m in norms:
        m.train = _inference_only.__get__(m)  # the loop's model.train() leaves them in eval
        nn.Module.train(m, False)

    def undo() -> None:
        for h in hooks:
            h.remove()
        for p in frozen:
            p.requires_grad_(True)
        for m in norms:
            del m.train

    return undo


def _masking(mask: torch.Tensor) -> Callable[[torch.Tensor], torch.Tensor]:
    """A gradient hook multiplying by ``mask``, copied once to the gradient's device."""
    on = {mask.device: mask}

    def hook(grad: torch.Tensor) -> torch.Tensor:
        if grad.device not in on:
            on[grad.device] = mask.to(grad.device)
        return grad * on[grad.device]

    return hook


def _inference_only(self: nn.Module, mode: bool = True) -> nn.Module:
    return nn.Module.train(self, False)
