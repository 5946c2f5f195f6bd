"""Counts simulated as Splatter does (Zappia, Phipson & Oshlack 2017, Genome Biology 18:174),
with known differential expression between two groups and a batch effect.

Splatter's model, its default parameters unless stated: gene means ~ Gamma(0.6, rate 0.3), 5 %
outlier genes (median × LogNormal(4, 0.5)); per group, each gene differentially expressed with
probability 0.1, factor LogNormal(0.1, 0.4), inverted for half of them; per batch, a factor
LogNormal(0.1, ``batch_scale``) for every gene; library sizes LogNormal(``lib_loc``, 0.3)
(Splatter's default loc 11 is ≈ 60,000 counts per cell; droplet data have a few thousand);
biological coefficient of variation (0.1 + 1/√mean) · √(60 / χ²₆₀) per gene; counts Poisson of
the Gamma-distributed cell means. No dropout (Splatter's default).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Simulated:
    x: np.ndarray  # (cells, genes) float32 counts
    group: np.ndarray  # "g1" / "g2"
    batch: np.ndarray  # "b1" / "b2"
    true_lfc: np.ndarray  # log2 of group 1's over group 2's share of counts, per gene
    de_any: np.ndarray  # differentially expressed in either group (the rest are null genes)


def _lognormal(rng: np.random.Generator, loc: float, scale: float, n: int) -> np.ndarray:
    return np.exp(rng.normal(loc, scale, n))


def _de_factors(rng: np.random.Generator, g: int) -> np.ndarray:
    is_de = rng.random(g) < 0.1
    down = rng.random(g) < 0.5
    fac = _lognormal(rng, 0.1, 0.4, g)
    fac[down] = 1.0 / fac[down]
    return np.where(is_de, fac, 1.0)


def splat(
    n_cells: int,
    n_genes: int,
    seed: int,
    *,
    b2_share: tuple[float, float] = (0.3, 0.7),
    batch_scale: float = 0.2,
    lib_loc: float = float(np.log(5000)),
) -> Simulated:
    """Two equal groups; batch b2 holds ``b2_share`` of group 1 and of group 2 (confounding)."""
    rng = np.random.default_rng(seed)
    base = rng.gamma(0.6, 1 / 0.3, n_genes)
    outlier = rng.random(n_genes) < 0.05
    base[outlier] = np.median(base) * _lognormal(rng, 4.0, 0.5, int(outlier.sum()))
    de = np.stack([_de_factors(rng, n_genes), _de_factors(rng, n_genes)])
    batch_fac = np.stack([_lognormal(rng, 0.1, batch_scale, n_genes) for _ in range(2)])
    group = np.repeat([0, 1], [n_cells // 2, n_cells - n_cells // 2])
    batch = (rng.random(n_cells) < np.asarray(b2_share)[group]).astype(int)
    share = base * de[group] * batch_fac[batch]
    share /= share.sum(1, keepdims=True)
    mean = share * _lognormal(rng, lib_loc, 0.3, n_cells)[:, None]
    bcv = (0.1 + 1.0 / np.sqrt(np.maximum(mean, 1e-12))) * np.sqrt(
        60.0 / rng.chisquare(60, n_genes)
    )
    cell_mean = rng.gamma(1.0 / bcv**2, mean * bcv**2)
    x = rng.poisson(cell_mean).astype(np.float32)
    p = base * de / (base * de).sum(1, keepdims=True)
    return Simulated(
        x=x,
        group=np.array(["g1", "g2"], dtype=object)[group],
        batch=np.array(["b1", "b2"], dtype=object)[batch],
        true_lfc=np.log2(p[0] / p[1]),
        de_any=(de != 1.0).any(axis=0),
    )
