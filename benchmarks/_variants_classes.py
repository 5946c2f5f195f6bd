"""EVE-style classes of BLAT_ECOLX substitutions against the DMS (reported, never chosen on).

The model's classes come from :func:`biovae.applications.variants.classes.classify_scan` on its
Δ ELBO (EVE's method, 25 % uncertain). The DMS is split the same label-free way, fixed before
any run: a two-Gaussian mixture on the loss of fitness (−fitness at 2,500 µg/ml ampicillin);
a mutant is *damaging* in the DMS when the higher-loss component is the more probable.
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import balanced_accuracy_score, roc_auc_score

from _common import markdown_table
from biovae.applications.variants.classes import classify_scan, fit_mixture


def dms_damaging(fitness: np.ndarray) -> np.ndarray:
    loss = -np.asarray(fitness, dtype=float)
    return fit_mixture(loss).posterior(loss) > 0.5


def class_agreement(score: np.ndarray, fitness: np.ndarray) -> dict:
    """How the classes of ``score`` (Δ ELBO, all substitutions) agree with the DMS classes."""
    truth = dms_damaging(fitness)
    found = classify_scan(score, np.ones(len(score), dtype=bool))
    sure = found.label != "uncertain"
    called = found.label[sure] == "damaging"
    return {
        "auroc": float(roc_auc_score(truth, found.p_damaging)),
        "accuracy_sure": float((called == truth[sure]).mean()),
        "balanced_accuracy_sure": float(balanced_accuracy_score(truth[sure], called)),
        "coverage": float(sure.mean()),
        "damaging_share": float((found.label == "damaging").mean()),
        "dms_damaging_share": float(truth.mean()),
        "delta_bic": found.delta_bic,
    }


def classes_table(res: dict) -> list[str]:
    """Markdown rows for every scored model that carries ``classes``."""
    rows = []
    d = res["dms"]
    if "classes" in d:
        rows.append(_row("independent-site", d["classes"]))
    single = res.get("single") or {}
    if "classes" in single.get("final", {}):
        rows.append(_row("VAE single, budgeted", single["final"]["classes"]))
    if "classes" in (res.get("ensemble") or {}):
        rows.append(_row("ensemble", res["ensemble"]["classes"]))
    if not rows:
        return []
    head = [
        "model",
        "AUROC (p_damaging)",
        "accuracy, 75 % most certain",
        "balanced accuracy, same",
        "damaging share (DMS)",
        "ΔBIC",
    ]
    return [
        "",
        "### EVE-style classes vs the DMS split by the same mixture (reported, not chosen on)",
        "",
        markdown_table(head, rows),
    ]


def _row(label: str, c: dict) -> list[str]:
    return [
        label,
        f"{c['auroc']:.3f}",
        f"{c['accuracy_sure']:.3f}",
        f"{c['balanced_accuracy_sure']:.3f}",
        f"{c['damaging_share']:.2f} ({c['dms_damaging_share']:.2f})",
        f"{c['delta_bic']:.0f}",
    ]
