"""The per-gene table of a differential-expression comparison from paired posterior draws
of two groups' normalised expression: fold-change summaries, the probabilities of the chosen
mode and the calls (posterior expected FDR, or a Bayes-factor threshold); see
:mod:`biovae.applications.differential` for the method."""

from __future__ import annotations

from typing import Any

import numpy as np


def estimate_pseudocount(
    h1: np.ndarray, h2: np.ndarray, absent1: np.ndarray, absent2: np.ndarray, q: float = 0.9
) -> float:
    """ε: for each group, the ``q`` quantile over the genes it does not express (``absent``)
    of their largest sampled h (1e-10 for a group expressing all); the larger of the two,
    divided by the number of genes, at least 1e-10 (scvi-tools 1.4's rule)."""
    values = [
        float(np.quantile(h.max(axis=0)[absent], q)) if absent.any() else 1e-10
        for h, absent in ((h1, absent1), (h2, absent2))
    ]
    return max(1e-10, max(values) / h1.shape[1])


#: Genes summarised at a time: the float64 fold changes of 5,000 draws stay ≈ 80 MB.
GENE_BLOCK = 2048


def change_table(
    h1: np.ndarray, h2: np.ndarray, eps: float, settings: Any
) -> dict[str, np.ndarray]:
    """Per-gene summaries of r = log2(h1 + ε) − log2(h2 + ε) over paired draws: the
    probabilities of ``settings.mode`` (with ε in change mode), the ``lfc_*`` columns with
    ε / 1000 (module docstring), and the calls; genes are taken :data:`GENE_BLOCK` at a time,
    so memory stays bounded for any number of genes."""
    block = _vanilla_block if settings.mode == "vanilla" else _change_block
    parts = [
        block(h1[:, j : j + GENE_BLOCK], h2[:, j : j + GENE_BLOCK], eps, settings.delta)
        for j in range(0, h1.shape[1], GENE_BLOCK)
    ]
    table = {k: np.concatenate([part[k] for part in parts]) for k in parts[0]}
    if settings.mode == "vanilla":
        called = np.abs(table["bayes_factor"]) >= settings.bayes_factor
        table[f"is_de_bf_{settings.bayes_factor:g}"] = called
    else:
        calls = fdr_calls(table["proba_de"], settings.fdr, table["lfc_mean"])
        table[f"is_de_fdr_{settings.fdr:g}"] = calls
    return table


def _change_block(h1: np.ndarray, h2: np.ndarray, eps: float, delta: float) -> dict:
    h1, h2 = h1.astype(np.float64), h2.astype(np.float64)
    r = np.log2(h1 + eps) - np.log2(h2 + eps)
    up, down = (r >= delta).mean(axis=0), (r <= -delta).mean(axis=0)
    p = np.maximum(up, down)
    return {
        "proba_de": p,
        "proba_not_de": 1.0 - p,
        # log-odds of proba_de, unsigned as scvi-tools reports it (a sign would turn a gene
        # that is probably not changed, p < 0.5, into strong evidence the other way); the
        # direction is in the lfc_* columns
        "bayes_factor": np.log(p + 1e-8) - np.log(1.0 - p + 1e-8),
        **_lfc_summaries(h1, h2, eps),
    }


def _vanilla_block(h1: np.ndarray, h2: np.ndarray, eps: float, delta: float) -> dict:
    h1, h2 = h1.astype(np.float64), h2.astype(np.float64)
    m1 = (h1 > h2).mean(axis=0)
    p = np.maximum(m1, 1.0 - m1)
    return {
        "proba_de": p,
        "proba_not_de": 1.0 - p,
        "proba_m1": m1,
        "proba_m2": 1.0 - m1,
        "bayes_factor": np.log(m1 + 1e-8) - np.log(1.0 - m1 + 1e-8),
        **_lfc_summaries(h1, h2, eps),
    }


def _lfc_summaries(h1: np.ndarray, h2: np.ndarray, eps: float) -> dict:
    r = np.log2(h1 + 1e-3 * eps) - np.log2(h2 + 1e-3 * eps)
    return {
        "lfc_mean": r.mean(axis=0),
        "lfc_median": np.median(r, axis=0),
        "lfc_std": r.std(axis=0),
        "lfc_min": r.min(axis=0),
        "lfc_max": r.max(axis=0),
        "scale1": h1.mean(axis=0),
        "scale2": h2.mean(axis=0),
    }


def ranking(proba_de: np.ndarray, lfc_mean: np.ndarray | None = None) -> np.ndarray:
    """Genes by decreasing ``proba_de``, ties by decreasing |``lfc_mean``| (then gene order):
    the order of the table, and the order in which :func:`fdr_calls` takes genes."""
    size = np.zeros(len(proba_de)) if lfc_mean is None else -np.abs(lfc_mean)
    return np.lexsort((size, -np.asarray(proba_de)))


def fdr_calls(proba_de: np.ndarray, fdr: float, lfc_mean: np.ndarray | None = None) -> np.ndarray:
    """The largest set of most probable genes whose posterior expected FDR is ≤ ``fdr`` (up to
    a relative 1e-9, the rounding of p and ``fdr``); genes taken in :func:`ranking` order. At
    ``fdr`` 0 that is every gene of ``proba_de`` exactly 1 (a mean of 1 − p is 0 only then)."""
    order = ranking(proba_de, lfc_mean)
    expected_fdr = np.cumsum(1.0 - proba_de[order]) / np.arange(1, len(order) + 1)
    # a prefix: the running mean only grows; without the tolerance a gene of P(DE) 4750/5000
    # alone was not called at fdr 0.05 (1 − 0.95 = 0.05 + 4e-17)
    within = np.flatnonzero(expected_fdr <= fdr * (1.0 + 1e-9))
    n_called = int(within[-1]) + 1 if len(within) else 0
    called = np.zeros(len(proba_de), dtype=bool)
    called[order[:n_called]] = True
    return called
