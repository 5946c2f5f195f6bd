"""Genotypes (eHGDP microsatellites): the latent map's population structure, and anomaly
detection of individuals from a region the model never saw.

    python benchmarks/genotype.py [--out bench-output/genotype]

Reads ``$BIOVAE_DATA_DIR/genotype`` (default ``../shared/data``): 1,350 individuals × 678 loci
(8,170 allele columns, 4.1 % missing), 7 regions. Everything is fixed a priori (library
defaults, genotype likelihood; seed 0):

* **Map**: a VAE on everyone, and the confounding audit's cross-validated balanced accuracy of
  region and population from the latent means, beside PCA (10 components of the allele counts,
  missing loci imputed by the allele's mean) audited the same way.
* **Anomalies**: for each region R, a VAE trained on the other regions minus a random 20 % of
  their individuals (held out); score = −``elbo_per_locus`` of the library's score table
  (:func:`biovae.applications.anomaly.score_columns`, i.e. ``biovae score --samples 10``: the
  log-likelihood per observed locus, the KL spread over all loci; 10 draws, seed 0). AUROC of
  R's individuals against the held-out ones, beside the independent-loci model (allele
  frequencies of the training individuals, +0.5 pseudocount, −log p per observed locus).
  Also recorded: the AUROC of the score this script computed itself before 2026-11-28
  (−``elbo`` / observed loci, the KL divided by the observed loci too) and of
  ``biovae score``'s default single draw.
* **Contamination**: the score table's QC (``plink --het``'s F, frequencies of the scored
  records) of all individuals plus 200 seeded mixtures of two random individuals (at each
  locus called in both, one allele of each, homozygous only where they share a single
  allele): the share of each flagged ``heterozygosity`` (F < −0.2), and the AUROC of the
  anomaly score (map VAE, 10 draws) for the mixtures against the real individuals.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.special import gammaln
from sklearn.decomposition import PCA as SkPCA
from sklearn.metrics import roc_auc_score

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import load_average, machine_info, markdown_table
from biovae import VAE
from biovae.applications.anomaly import score_columns
from biovae.data.readers import read_dataset
from biovae.diagnostics.confounding import audit_covariate
from biovae.inputs import as_dataset

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("BIOVAE_DATA_DIR", REPO.parent / "shared" / "data")) / "genotype"


def load():
    return read_dataset(
        DATA / "ehgdp_microsat.tsv.gz",
        id_column="individual",
        allow_missing=True,
        obs_path=DATA / "ehgdp_populations.tsv",
    )


def map_section(ds) -> dict:
    t0 = time.perf_counter()
    est = VAE(likelihood="genotype", seed=0).fit(ds)
    fit_s = time.perf_counter() - t0
    z_vae = est.transform(ds)
    x = np.where(np.isnan(ds.x), np.nanmean(ds.x, axis=0), ds.x)
    z_pca = SkPCA(10, random_state=0).fit_transform(x)
    out = {"fit_s": fit_s, "epochs": est.history_[-1]["epoch"]}
    for name, z in (("vae", z_vae), ("pca", z_pca)):
        res = {k: audit_covariate(z, ds.obs[k], seed=0) for k in ("region", "population")}
        out[name] = {k: res[k]["balanced_accuracy"] for k in res}
        out[name]["chance"] = {k: res[k]["chance"] for k in res}
    print(f"map: {out}", file=sys.stderr)
    return out, est


def per_locus(ds, loci: tuple[int, ...]) -> np.ndarray:
    starts = np.concatenate([[0], np.cumsum(loci)[:-1]])
    return (~np.isnan(ds.x[:, starts])).sum(1)


def independent_scores(train, test, loci) -> np.ndarray:
    """−log p per observed locus under per-locus allele frequencies of ``train``."""
    counts = np.nansum(train.x, axis=0) + 0.5
    starts = np.concatenate([[0], np.cumsum(loci)[:-1]])
    totals = np.add.reduceat(counts, starts)
    logf = np.log(counts / np.repeat(totals, loci))
    c = np.nan_to_num(test.x)
    log_p = c @ logf - gammaln(c + 1).sum(1) + gammaln(3.0) * per_locus(test, loci)
    return -log_p / per_locus(test, loci)


def anomaly_section(ds) -> dict:
    regions = sorted(set(ds.obs["region"]))
    rng = np.random.default_rng(0)
    out = {}
    for region in regions:
        others = np.flatnonzero(ds.obs["region"] != region)
        held = np.sort(rng.choice(others, round(0.2 * len(others)), replace=False))
        train_idx = np.setdiff1d(others, held)
        novel = np.flatnonzero(ds.obs["region"] == region)
        train, test = ds.subset(train_idx), ds.subset(np.concatenate([held, novel]))
        label = np.r_[np.zeros(len(held)), np.ones(len(novel))]
        t0 = time.perf_counter()
        est = VAE(likelihood="genotype", seed=0).fit(train)
        loci = est.config_.model.likelihood.loci
        table = score_columns(est, test, samples=10)
        one_draw = score_columns(est, test)["elbo_per_locus"]
        ind = independent_scores(train, test, loci)
        out[region] = {
            "novel": len(novel),
            "held_out": len(held),
            "vae_auroc": float(roc_auc_score(label, -table["elbo_per_locus"])),
            "old_score_auroc": float(roc_auc_score(label, -table["elbo"] / table["observed_loci"])),
            "one_draw_auroc": float(roc_auc_score(label, -one_draw)),
            "independent_auroc": float(roc_auc_score(label, ind)),
            "fit_s": time.perf_counter() - t0,
            "load": load_average(),
        }
        print(f"{region}: {out[region]}", file=sys.stderr)
    return out


def mixture(a: np.ndarray, b: np.ndarray, loci: tuple[int, ...]) -> np.ndarray:
    """The diploid call of DNA of individuals ``a`` and ``b`` mixed: at each locus called in
    both, one allele of each (the first of ``a``, the first of ``b`` not the same, else another
    of the union), homozygous only where both carry one allele alone; else missing."""
    out, start = np.full(len(a), np.nan), 0
    for size in loci:
        la, lb = a[start : start + size], b[start : start + size]
        if not (np.isnan(la).any() or np.isnan(lb).any()):
            first = int(np.flatnonzero(la)[0])
            other = [k for k in np.flatnonzero(la + lb) if k != first]
            theirs = [k for k in np.flatnonzero(lb) if k != first]
            call = np.zeros(size)
            call[first] += 1
            call[(theirs or other or [first])[0]] += 1
            out[start : start + size] = call
        start += size
    return out


def contamination_section(ds, est) -> dict:
    loci = est.config_.model.likelihood.loci
    rng = np.random.default_rng(0)
    pairs = [rng.choice(len(ds), 2, replace=False) for _ in range(200)]
    mixed = np.array([mixture(ds.x[i], ds.x[j], loci) for i, j in pairs], np.float32)
    both = as_dataset(
        pd.DataFrame(
            np.vstack([ds.x, mixed]),
            index=[*ds.ids, *(f"mix{k}" for k in range(len(mixed)))],
            columns=ds.features,
        )
    )
    table = score_columns(est, both, samples=10)
    flag = np.array(["heterozygosity" in f for f in table["qc_flag"]])
    label = np.r_[np.zeros(len(ds)), np.ones(len(mixed))]
    f = table["het_f"]
    out = {
        "mixtures": len(mixed),
        "mixtures_flagged": float(flag[len(ds) :].mean()),
        "individuals_flagged": float(flag[: len(ds)].mean()),
        "f_individuals": [float(np.nanmin(f[: len(ds)])), float(np.nanmax(f[: len(ds)]))],
        "f_mixtures": [float(np.nanmin(f[len(ds) :])), float(np.nanmax(f[len(ds) :]))],
        "score_auroc": float(roc_auc_score(label, -table["elbo_per_locus"])),
        "f_auroc": float(roc_auc_score(label, -np.nan_to_num(f))),
    }
    print(f"contamination: {out}", file=sys.stderr)
    return out


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--out", default="bench-output/genotype")
    args = p.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    ds = load()
    res = {"machine": machine_info(), "shape": list(ds.x.shape)}
    res["map"], est = map_section(ds)
    res["contamination"] = contamination_section(ds, est)
    res["anomaly"] = anomaly_section(ds)
    (out / "genotype.json").write_text(json.dumps(res, indent=2, default=str))
    m = res["map"]
    print(
        markdown_table(
            ["embedding", "region bal. acc.", "population bal. acc."],
            [[k, f"{m[k]['region']:.3f}", f"{m[k]['population']:.3f}"] for k in ("vae", "pca")],
        )
    )
    keys = ("vae_auroc", "old_score_auroc", "one_draw_auroc", "independent_auroc")
    rows = [
        [r, v["novel"], v["held_out"], *(f"{v[k]:.3f}" for k in keys)]
        for r, v in res["anomaly"].items()
    ]
    mean = [np.mean([v[k] for v in res["anomaly"].values()]) for k in keys]
    rows.append(["mean", "", "", *(f"{m:.3f}" for m in mean)])
    head = ["unseen region", "n", "held-out n", "VAE AUROC", "old score", "1 draw", "independent"]
    print(markdown_table(head, rows))
    print(json.dumps(res["contamination"]))


if __name__ == "__main__":
    main()
