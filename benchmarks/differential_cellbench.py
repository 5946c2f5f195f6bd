"""Differential expression on real data: do two platforms tell the same story?

    python benchmarks/differential_cellbench.py [--out bench-output/differential-cellbench]

CellBench (three lung-cancer cell lines, each sequenced on two platforms; the 2,000 genes with
most counts) has no list of true differentially expressed genes, but it has a replicate: the
same cell lines on another platform. For each platform separately — one model per platform, so
the two answers share no fitted parameter — each method compares every pair of cell lines, and
the two platforms' answers are compared: Spearman correlation of the genes' log2 fold changes
(effect sizes), and the overlap of the 100 genes each platform ranks first (as a share of 100;
ranked by proba_de for the Bayesian methods, by p-value for Wilcoxon; direction must agree).

Methods: biovae's NB-VAE and scVI with the same settings (scVI's architecture: 10 latent
dimensions, one hidden layer of 128, batch norm, dropout 0.1, 400 epochs with KL warm-up over
all of them, batch 128), each with its change-mode DE (δ = 0.25; scVI's ``mode="change"``);
and the Wilcoxon test on log1p counts per 10,000 (log2 ratio of mean counts per 10,000 as its
effect size). Prints Markdown for RESULTS.md and writes ``results.json``.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
from scipy import stats

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine_info, write_json_atomic
from _scvi import output_and_scvi, run_scvi, write_h5ad
from biovae.applications.differential import DESettings, differential_expression
from biovae.data.dataset import Dataset
from biovae.estimator import VAE
from diagnostics import cellbench
from differential import rank_sum
from singlecell import BATCH_SIZE, N_HIDDEN, N_LATENT, nb_config

TOP, EPOCHS = 100, 400


def pairs(ds: Dataset) -> list[tuple[str, str]]:
    return list(itertools.combinations(sorted(set(ds.obs["cell_line"])), 2))


def biovae_answers(ds: Dataset, epochs: int) -> dict:
    est = VAE(config=nb_config(epochs, None, epochs)).fit(ds)
    out = {}
    for a, b in pairs(ds):
        t = differential_expression(
            est, ds, groupby="cell_line", group1=a, group2=b, settings=DESettings()
        ).reindex(list(ds.features))
        out[f"{a} vs {b}"] = {"lfc": t["lfc_mean"].to_numpy(), "rank": t["proba_de"].to_numpy()}
    return out


def scvi_answers(ds: Dataset, python: Path, work: Path, epochs: int) -> dict:
    settings = {
        "train": str(write_h5ad(ds, work / "platform.h5ad", ("cell_line",))),
        "test": None, "embed": None, "batch_key": None, "n_latent": N_LATENT,
        "n_hidden": N_HIDDEN, "epochs": epochs, "batch_size": BATCH_SIZE,
        "threads": torch.get_num_threads(), "seed": 0, "elbo_samples": 1,
        "de": [
            {"groupby": "cell_line", "group1": a, "group2": b, "batch_correction": False}
            for a, b in pairs(ds)
        ],
    }  # fmt: skip
    order = {g: i for i, g in enumerate(ds.features)}
    out = {}
    for run in run_scvi(python, settings, work)["de"]:
        idx = np.array([order[g] for g in run["genes"]])
        lfc, rank = np.zeros(len(order)), np.zeros(len(order))
        lfc[idx], rank[idx] = run["lfc_mean"], run["proba_de"]
        out[f"{run['group1']} vs {run['group2']}"] = {"lfc": lfc, "rank": rank}
    return out


def wilcoxon_answers(ds: Dataset) -> dict:
    x = ds.x.toarray() if hasattr(ds.x, "toarray") else np.asarray(ds.x)
    lines = ds.obs["cell_line"]
    out = {}
    for a, b in pairs(ds):
        res = rank_sum(x, lines == a, lines == b)
        out[f"{a} vs {b}"] = {"lfc": res["lfc"], "rank": -np.log10(np.maximum(res["p"], 1e-300))}
    return out


def agreement(one: dict, two: dict) -> dict:
    """Spearman of effect sizes and signed top-``TOP`` overlap between two platforms."""
    rho = float(stats.spearmanr(one["lfc"], two["lfc"]).statistic)

    def top(ans):
        best = np.argsort(-ans["rank"], kind="stable")[:TOP]
        return {(int(g), bool(ans["lfc"][g] > 0)) for g in best}

    return {"spearman_lfc": rho, "top_overlap": len(top(one) & top(two)) / TOP}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--epochs", type=int, default=EPOCHS)
    p.add_argument("--no-scvi", action="store_true")
    p.add_argument("--scvi-env", default="bench-output/scvi-env")
    p.add_argument("--out", default="bench-output/differential-cellbench")
    args = p.parse_args()
    out, python = output_and_scvi(args.out, args)
    ds, _ = cellbench(quick=False)
    answers: dict[str, list[dict]] = {"biovae": [], "scVI": [], "Wilcoxon": []}
    with tempfile.TemporaryDirectory() as tmp:
        for platform in sorted(set(ds.obs["batch"])):
            part = ds.subset(np.flatnonzero(ds.obs["batch"] == platform))
            answers["biovae"].append(biovae_answers(part, args.epochs))
            if python is not None:
                answers["scVI"].append(scvi_answers(part, python, Path(tmp), args.epochs))
            answers["Wilcoxon"].append(wilcoxon_answers(part))
    results = {
        method: {pair: agreement(two[0][pair], two[1][pair]) for pair in two[0]}
        for method, two in answers.items()
        if len(two) == 2
    }
    write_json_atomic(out / "results.json", {"machine": machine_info(), "results": results})
    lines = ["| method | cell lines | Spearman of log2 FC | top-100 overlap |", "|---|---|---|---|"]
    for method, per_pair in results.items():
        for pair, m in per_pair.items():
            lines.append(
                f"| {method} | {pair} | {m['spearman_lfc']:.3f} | {m['top_overlap']:.2f} |"
            )
    print("\n".join(lines))


if __name__ == "__main__":
    main()
