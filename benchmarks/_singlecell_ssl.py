"""Semi-supervised part of the single-cell benchmark (issue #4): labels for 5 % of CellBench.

The labelled cells are a stratified sample: round(5 % of each cell line) cells per line (at
least one), drawn with a fixed seed; every other cell's label is hidden ("unknown"). Both
models train on all cells (the hidden labels are never seen) and are scored by accuracy on the
other 95 %. biovae: the semi-supervised VAE (scANVI-style, classifier on z, NB likelihood,
conditioned on the batch). scANVI: ``SCANVI.from_scvi_model`` on the scVI trained with the
same settings (see ``scvi_worker.py``).
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np

from biovae.config import FitConfig
from biovae.data.dataset import Dataset
from biovae.ssvae_estimator import SemiSupervisedVAE

LABEL_FRACTION = 0.05
UNLABELLED = "unknown"
PARTIAL_KEY = "cell_line_partial"


def labelled_mask(labels: np.ndarray, fraction: float = LABEL_FRACTION, seed: int = 0):
    """Stratified random choice: round(fraction · n_c) (≥ 1) cells of every class c."""
    rng = np.random.default_rng(seed)
    labels = np.asarray(labels).astype(str)
    mask = np.zeros(len(labels), dtype=bool)
    for level in sorted(set(labels)):
        members = np.flatnonzero(labels == level)
        k = max(1, round(fraction * len(members)))
        mask[rng.choice(members, size=k, replace=False)] = True
    return mask


def with_partial_labels(ds: Dataset, truth_key: str, mask: np.ndarray) -> Dataset:
    """``ds`` with column PARTIAL_KEY: the true label where ``mask``, else UNLABELLED."""
    truth = np.asarray(ds.obs[truth_key]).astype(str)
    partial = np.where(mask, truth, UNLABELLED).astype(object)
    return dataclasses.replace(ds, obs={**ds.obs, PARTIAL_KEY: partial})


def ssvae_config(base: FitConfig) -> FitConfig:
    """The semi-supervised VAE with ``base``'s network, likelihood, objective and training."""
    model = dataclasses.replace(base.model, kind="ssvae")
    data = dataclasses.replace(base.data, labels_key=PARTIAL_KEY)
    return dataclasses.replace(base, model=model, data=data)


def fit_ssvae(ds: Dataset, cfg: FitConfig) -> tuple[SemiSupervisedVAE, float]:
    t0 = time.perf_counter()
    est = SemiSupervisedVAE(config=cfg).fit(ds)
    return est, time.perf_counter() - t0


def accuracy(predicted, truth, mask: np.ndarray) -> float:
    """Fraction of the cells outside ``mask`` whose predicted label is the true one."""
    predicted, truth = np.asarray(predicted).astype(str), np.asarray(truth).astype(str)
    return float((predicted[~mask] == truth[~mask]).mean())


def per_class_accuracy(predicted, truth, mask: np.ndarray) -> dict[str, float]:
    predicted, truth = np.asarray(predicted).astype(str), np.asarray(truth).astype(str)
    rest = ~mask
    return {
        level: float((predicted[rest & (truth == level)] == level).mean())
        for level in sorted(set(truth))
    }


def ssl_markdown(r: dict) -> list[str]:
    """Lines for RESULTS.md."""
    rows = [
        f"| {name} | {v['accuracy']:.3f} | "
        + ", ".join(f"{k} {a:.3f}" for k, a in v["per_class"].items())
        + f" | {v['seconds']:.1f} |"
        for name, v in r["models"].items()
    ]
    return [
        f"Semi-supervised, CellBench ({r['cells']} cells): {r['labelled']} labelled cells "
        f"(stratified, {r['fraction']:.0%} of each cell line, seed {r['seed']}); accuracy on "
        f"the other {r['cells'] - r['labelled']} cells; {r['epochs']} epochs.",
        "",
        "| model | accuracy | per cell line | train s |",
        "|---|---|---|---|",
        *rows,
        "",
    ]
