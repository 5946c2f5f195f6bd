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
  their individuals (held out); score = −ELBO per observed locus (10 draws). AUROC of R's
  individuals against the held-out ones, beside the independent-loci model (allele frequencies
  of the training individuals, +0.5 pseudocount) scored the same way.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
from scipy.special import gammaln
from sklearn.decomposition import PCA as SkPCA
from sklearn.metrics import roc_auc_score

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import load_average, machine_info, markdown_table
from biovae import VAE
from biovae.data.readers import read_dataset
from biovae.diagnostics.confounding import audit_covariate

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
    return out


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
        vae = -est.score(test, n_samples=10) / per_locus(test, loci)
        ind = independent_scores(train, test, loci)
        out[region] = {
            "novel": len(novel),
            "held_out": len(held),
            "vae_auroc": float(roc_auc_score(label, vae)),
            "independent_auroc": float(roc_auc_score(label, ind)),
            "fit_s": time.perf_counter() - t0,
            "load": load_average(),
        }
        print(f"{region}: {out[region]}", file=sys.stderr)
    return out


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--out", default="bench-output/genotype")
    args = p.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    ds = load()
    res = {"machine": machine_info(), "shape": list(ds.x.shape)}
    res["map"] = map_section(ds)
    res["anomaly"] = anomaly_section(ds)
    (out / "genotype.json").write_text(json.dumps(res, indent=2, default=str))
    m = res["map"]
    print(
        markdown_table(
            ["embedding", "region bal. acc.", "population bal. acc."],
            [[k, f"{m[k]['region']:.3f}", f"{m[k]['population']:.3f}"] for k in ("vae", "pca")],
        )
    )
    rows = [
        [r, v["novel"], v["held_out"], f"{v['vae_auroc']:.3f}", f"{v['independent_auroc']:.3f}"]
        for r, v in res["anomaly"].items()
    ]
    mean = [
        np.mean([v[k] for v in res["anomaly"].values()]) for k in ("vae_auroc", "independent_auroc")
    ]
    rows.append(["mean", "", "", f"{mean[0]:.3f}", f"{mean[1]:.3f}"])
    print(
        markdown_table(["unseen region", "n", "held-out n", "VAE AUROC", "independent AUROC"], rows)
    )


if __name__ == "__main__":
    main()
