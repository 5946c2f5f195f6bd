"""Differential expression against a known truth: biovae and scVI (change mode, with and
without batch correction) and a Wilcoxon rank-sum test, side by side on Splatter-style counts.

    python benchmarks/differential.py [--seeds 0,1] [--mode change|vanilla]
                                      [--out bench-output/differential]

Data (``_splat.py``): two groups of cells with Splatter's differential expression and a batch
effect confounded with them (batch b2 holds 30 % of group g1 and 70 % of g2). Truth, per gene:
*positive* if differentially expressed with |true log2 fold change of its share of counts|
≥ 0.5, *null* if differentially expressed in neither group; differentially expressed genes
with smaller fold changes are left out of the ranking measures. Reported per method: AUROC and
average precision of its score separating positives from nulls, the number of genes it calls,
the share of calls that are null genes (observed FDR) and the share of positives called.

Models: biovae's NB-VAE and scVI with the same settings (scVI's architecture: 10 latent
dimensions, one hidden layer of 128, batch norm, dropout 0.1, batch 128, Adam 1e-3, KL warm-up
over all epochs), both conditioned on the batch, biovae's encoder not reading it (as scVI's).
Both tools' DE in change mode (scVI's `mode="change"`; its default "vanilla" has no FDR calls)
with their defaults otherwise (δ = 0.25, posterior expected FDR 0.05); scVI
runs in its own environment (``_scvi.py``). ``--mode vanilla`` runs both tools in vanilla mode
instead (P(h1 > h2); each gene scored by the probability of its more probable sign, called at
|log Bayes factor| ≥ 3; the ``--out`` default then ends in ``-vanilla``). Wilcoxon: scanpy's
default test, on log1p counts per 10,000, two-sided, Benjamini–Hochberg q < 0.05 and
|log2 ratio of mean counts per 10,000| ≥ 0.25 to call. Prints Markdown for RESULTS.md and
writes ``results.json``.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp
import torch
from scipy import stats

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import load_average, machine_info, method_table, run_seeds, write_json_atomic
from _scvi import add_simulation_args, output_and_scvi, run_scvi, write_h5ad
from _splat import Simulated, splat
from biovae.applications.differential import DESettings, differential_expression
from biovae.data.dataset import Dataset
from biovae.estimator import VAE
from singlecell import BATCH_SIZE, N_HIDDEN, N_LATENT, nb_config

POSITIVE_LFC = 0.5


def dataset(sim: Simulated) -> Dataset:
    ids = np.array([f"c{i}" for i in range(len(sim.x))], dtype=object)
    feats = tuple(f"gene{j}" for j in range(sim.x.shape[1]))
    obs = {"group": sim.group, "batch": sim.batch}
    return Dataset(sp.csr_matrix(sim.x), ids, feats, obs, source="splat")


def truth(sim: Simulated) -> tuple[np.ndarray, np.ndarray]:
    """Masks of positive and null genes (module docstring)."""
    return sim.de_any & (np.abs(sim.true_lfc) >= POSITIVE_LFC), ~sim.de_any


def scores(score: np.ndarray, called: np.ndarray, sim: Simulated) -> dict:
    from sklearn.metrics import average_precision_score, roc_auc_score

    pos, null = truth(sim)
    keep = pos | null
    n_called = int(called.sum())
    return {
        "auroc": float(roc_auc_score(pos[keep], score[keep])),
        "average_precision": float(average_precision_score(pos[keep], score[keep])),
        "called": n_called,
        "observed_fdr": float((called & null).sum() / n_called) if n_called else 0.0,
        "recall": float((called & pos).sum() / pos.sum()),
        "positives": int(pos.sum()),
        "nulls": int(null.sum()),
    }


def rank_sum(x: np.ndarray, one: np.ndarray, two: np.ndarray, delta: float = 0.25) -> dict:
    """Wilcoxon rank-sum of log1p counts per 10,000, group ``one`` against ``two`` (masks):
    p-values, log2 ratio of mean counts per 10,000, and calls (BH q < 0.05, |ratio| ≥ δ)."""
    x = np.asarray(x, dtype=np.float64)
    cp10k = x / np.maximum(x.sum(1, keepdims=True), 1) * 1e4
    a, b = cp10k[one], cp10k[two]
    p = stats.mannwhitneyu(np.log1p(a), np.log1p(b), axis=0, method="asymptotic").pvalue
    p = np.where(np.isnan(p), 1.0, p)  # genes with no counts in either group
    lfc = np.log2((a.mean(0) + 1e-9) / (b.mean(0) + 1e-9))
    called = (stats.false_discovery_control(p) < 0.05) & (np.abs(lfc) >= delta)
    return {"p": p, "lfc": lfc, "called": called}


def wilcoxon(sim: Simulated, delta: float = 0.25) -> tuple[np.ndarray, np.ndarray, float]:
    t0 = time.perf_counter()
    res = rank_sum(sim.x, sim.group == "g1", sim.group == "g2", delta)
    score = -np.log10(np.maximum(res["p"], 1e-300))
    return score, res["called"], time.perf_counter() - t0


def biovae_runs(ds: Dataset, seed: int, epochs: int, mode: str) -> tuple[dict, float]:
    cfg = nb_config(epochs, "batch", epochs)
    cfg = dataclasses.replace(
        cfg,
        model=dataclasses.replace(
            cfg.model, network=dataclasses.replace(cfg.model.network, encode_covariates=False)
        ),
        train=dataclasses.replace(cfg.train, seed=seed),
    )
    t0 = time.perf_counter()
    est = VAE(config=cfg).fit(ds)
    fit_s = time.perf_counter() - t0
    runs = {}
    for corrected in (True, False):
        t0 = time.perf_counter()
        table = differential_expression(
            est,
            ds,
            groupby="group",
            group1="g1",
            group2="g2",
            batch_key="batch" if corrected else None,
            settings=DESettings(mode=mode, seed=seed),
        ).reindex(list(ds.features))
        name = f"biovae, batch-{'corrected' if corrected else 'uncorrected'}"
        runs[name] = (table, time.perf_counter() - t0)
    return runs, fit_s


def scvi_runs(python: Path, path: Path, work: Path, seed: int, args) -> dict:
    spec = {"groupby": "group", "group1": "g1", "group2": "g2", "mode": args.mode}
    epochs = args.epochs
    settings = {
        "train": str(path),
        "test": None,
        "embed": None,
        "batch_key": "batch",
        "n_latent": N_LATENT,
        "n_hidden": N_HIDDEN,
        "epochs": epochs,
        "batch_size": BATCH_SIZE,
        "threads": torch.get_num_threads(),
        "seed": seed,
        "elbo_samples": 1,
        "de": [{**spec, "batch_correction": bc} for bc in (True, False)],
    }
    return run_scvi(python, settings, work)


def one_seed(args, seed: int, python: Path | None, work: Path) -> dict:
    sim = splat(args.cells, args.genes, seed)
    ds = dataset(sim)
    out = {"seed": seed, "load_start": load_average(), "methods": {}}
    runs, fit_s = biovae_runs(ds, seed, args.epochs, args.mode)
    out["biovae_fit_seconds"] = fit_s
    calls = "is_de_bf_3" if args.mode == "vanilla" else "is_de_fdr_0.05"
    for name, (table, secs) in runs.items():
        m = scores(table["proba_de"].to_numpy(), table[calls].to_numpy(), sim)
        out["methods"][name] = {**m, "de_seconds": secs}
    if python is not None:
        res = scvi_runs(
            python,
            write_h5ad(ds, work / f"splat{seed}.h5ad", ("group", "batch")),
            work,
            seed,
            args,
        )
        out["scvi_fit_seconds"] = res["train_seconds"]
        order = {g: i for i, g in enumerate(ds.features)}
        for run in res["de"]:
            idx = np.array([order[g] for g in run["genes"]])
            p, called = np.zeros(len(order)), np.zeros(len(order), dtype=bool)
            p[idx], called[idx] = run["proba_de"], run["called"]
            name = f"scVI, batch-{'corrected' if run['batch_correction'] else 'uncorrected'}"
            out["methods"][name] = {**scores(p, called, sim), "de_seconds": run["seconds"]}
    score, called, secs = wilcoxon(sim)
    out["methods"]["Wilcoxon (log1p CP10k, BH)"] = {
        **scores(score, called, sim),
        "de_seconds": secs,
    }
    out["load_end"] = load_average()
    return out


def markdown(results: list[dict]) -> str:
    return method_table(
        results,
        (
            ("AUROC", "auroc", ".3f"),
            ("average precision", "average_precision", ".3f"),
            ("called", "called", ""),
            ("observed FDR", "observed_fdr", ".3f"),
            ("recall", "recall", ".3f"),
            ("DE s", "de_seconds", ".1f"),
        ),
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_simulation_args(p, cells=3000, genes=2000, epochs=200)
    p.add_argument("--mode", choices=("change", "vanilla"), default="change")
    p.add_argument("--out", default=None)
    args = p.parse_args()
    suffix = "-vanilla" if args.mode == "vanilla" else ""
    out, python = output_and_scvi(args.out or f"bench-output/differential{suffix}", args)
    results = run_seeds(args.seeds, lambda seed, work: one_seed(args, seed, python, work), markdown)
    write_json_atomic(
        out / "results.json", {"machine": machine_info(), "args": vars(args), "results": results}
    )
    print(markdown(results))
    for r in results:
        fits = f"biovae fit {r['biovae_fit_seconds']:.1f} s"
        if "scvi_fit_seconds" in r:
            fits += f", scVI train {r['scvi_fit_seconds']:.1f} s"
        print(f"\nseed {r['seed']}: {fits}; load {r['load_start']} → {r['load_end']}")


if __name__ == "__main__":
    main()
