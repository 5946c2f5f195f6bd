"""Posterior draws of normalised expression for differential expression.

:func:`sample_frequencies` draws a group's expression h = softmax(ρ(z, c)) (the share of each
gene in a cell's counts) one *cell* per draw — every cell of the group used ⌊S/n⌋ or ⌈S/n⌉
times, in a fresh random order each round through them, z ~ q(z|x, c) — so the fold changes
between two groups' draws carry the cells' own variation (scVI's change mode). With a batch
covariate to correct for, draw j of either group is decoded under the same level (j mod L) of
that covariate; otherwise every cell keeps its own covariates.

(A "mean" mode — fold changes between the groups' average expression, bootstrapped over cells
— was built and measured, and removed: on simulated counts its calls had an observed FDR of
0.35–0.38 at a target of 0.05; ``benchmarks/RESULTS.md``, differential expression, run 5.)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from biovae.applications.expression import covariate_levels
from biovae.objectives import DECODE_ROWS


@dataclass(frozen=True)
class Cells:
    """q(z|x, c) of every record — ``loc``, ``scale`` ``(n, k)`` — and covariates ``(n, w)``."""

    loc: torch.Tensor
    scale: torch.Tensor
    c: torch.Tensor | None


@torch.no_grad()
def read_cells(est: Any, ds: Any) -> Cells:
    """One pass over ``ds`` (validated against the model; data on disk stay there)."""
    locs, scales, covs = [], [], []
    for b in est.iter_batches(ds):
        qz = est.model_.encode(b.x, b.c)
        locs.append(qz.mean)
        scales.append(qz.stddev)
        covs.append(b.c)
    c = None if covs[0] is None else torch.cat(covs)
    return Cells(torch.cat(locs), torch.cat(scales), c)


@torch.no_grad()
def sample_frequencies(
    est: Any,
    cells: Cells,
    idx: np.ndarray,
    n_samples: int,
    gen: torch.Generator,
    batch_key: str | None = None,
) -> np.ndarray:
    """``n_samples`` posterior draws of the normalised expression h of the records ``idx``,
    ``(n_samples, genes)`` float32 (module docstring)."""
    model = est.model_
    pick = idx[_cell_order(len(idx), n_samples, gen)]
    eps = torch.randn(n_samples, cells.loc.shape[1], generator=gen)
    z = cells.loc[pick] + cells.scale[pick] * eps
    c_draw = _draw_covariates(est, cells.c, pick, batch_key)
    out = np.empty((n_samples, int(np.prod(est.schema_.data_shape))), dtype=np.float32)
    for i in range(0, n_samples, DECODE_ROWS):
        part = slice(i, i + DECODE_ROWS)
        params = model.decoder.params(z[part], None if c_draw is None else c_draw[part])
        h = model.likelihood.frequencies(params)
        out[part] = h.reshape(h.shape[0], -1).numpy()
    return out


def _cell_order(n: int, n_samples: int, gen: torch.Generator) -> np.ndarray:
    """Which of ``n`` cells each of ``n_samples`` draws decodes: every cell once per round, in
    a fresh random order each round. (One order repeated put a cell at draws m, m + n, m + 2n,
    …: with n a multiple of the covariate's levels L it was decoded under one level j mod L in
    every round, never under the others.)"""
    rounds = -(-n_samples // n)
    return torch.cat([torch.randperm(n, generator=gen) for _ in range(rounds)])[:n_samples].numpy()


def _draw_covariates(
    est: Any, c: torch.Tensor | None, pick: np.ndarray, batch_key: str | None
) -> torch.Tensor | None:
    """Covariates the picked records are decoded with: their own, or with ``batch_key`` set to
    level j mod L for row j (the same level for draw j of either group). The records' encoded
    covariates are reused (encoding them again would repeat each warning about them)."""
    if batch_key is None:
        return None if c is None else c[pick]
    n_levels = len(covariate_levels(est, batch_key))
    level_of_row = torch.arange(len(pick)) % n_levels
    drawn = c[pick]
    for level in range(n_levels):
        rows = level_of_row == level
        drawn[rows] = est.schema_.covariates.with_level(drawn[rows], batch_key, level)
    return drawn
