"""Linear decoders (LDVAE) against known loadings: biovae's ``--decoder linear`` beside
scvi-tools' ``LinearSCVI``, side by side on simulated counts.

    python benchmarks/loadings.py [--seeds 0,1] [--out bench-output/loadings]

Data: NB counts from an LDVAE with known loadings. Each of 1,000 genes loads on each of 10
factors with probability 0.2, the loading drawn from N(0, 1); gene baselines b ~ N(−0.5, 1.5);
z ~ N(0, I); a cell's gene shares are softmax(W z + b), its library log-normal around 3,000,
counts gamma–Poisson with inverse dispersion 10; 5,000 cells.

Models: 10 latent dimensions, an encoder with one hidden layer of 128 (batch norm, dropout 0.1),
a linear decoder, batch 128, Adam 1e-3, 200 epochs with KL warm-up over all of them, for both
tools (biovae: the single-cell benchmark's scVI-matched settings with ``decoder = "linear"``;
scvi-tools: ``LinearSCVI`` with its defaults otherwise, in its own environment).

Measured: the principal angles between the true loadings and each tool's (both centred over
genes, as a softmax ignores a constant added to a factor's column; the latent space is
identified only up to rotation, so spans are compared), their largest and their mean, and each
tool's training time. Prints Markdown for RESULTS.md and writes ``results.json``.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

import numpy as np
import scipy.linalg as sl
import scipy.sparse as sp
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import load_average, machine_info, method_table, run_seeds, write_json_atomic
from _scvi import add_simulation_args, output_and_scvi, run_scvi, write_h5ad
from biovae.applications.loadings import loadings
from biovae.data.dataset import Dataset
from biovae.estimator import VAE
from singlecell import BATCH_SIZE, N_HIDDEN, N_LATENT, nb_config


def simulate(seed: int, n: int, g: int, k: int) -> tuple[Dataset, np.ndarray]:
    rng = np.random.default_rng(seed)
    w = np.where(rng.random((g, k)) < 0.2, rng.normal(0, 1, (g, k)), 0.0)
    b = rng.normal(-0.5, 1.5, g)
    t = rng.normal(size=(n, k)) @ w.T + b
    h = np.exp(t - t.max(1, keepdims=True))
    h /= h.sum(1, keepdims=True)
    library = np.exp(rng.normal(np.log(3000), 0.3, n))
    x = rng.poisson(rng.gamma(10.0, h * library[:, None] / 10.0)).astype(np.float32)
    ids = np.array([f"c{i}" for i in range(n)], dtype=object)
    feats = tuple(f"gene{j}" for j in range(g))
    return Dataset(sp.csr_matrix(x), ids, feats, {}, source="ldvae-sim"), w


def angles(true_w: np.ndarray, learned: np.ndarray) -> dict:
    a = np.degrees(sl.subspace_angles(true_w - true_w.mean(0), learned - learned.mean(0)))
    return {"max_angle": float(a.max()), "mean_angle": float(a.mean()), "angles": a.tolist()}


def biovae_fit(ds: Dataset, seed: int, epochs: int) -> tuple[np.ndarray, float]:
    cfg = nb_config(epochs, None, epochs)
    net = dataclasses.replace(cfg.model.network, decoder="linear")
    cfg = dataclasses.replace(
        cfg,
        model=dataclasses.replace(cfg.model, network=net),
        train=dataclasses.replace(cfg.train, seed=seed),
    )
    t0 = time.perf_counter()
    est = VAE(config=cfg).fit(ds)
    return loadings(est).to_numpy(), time.perf_counter() - t0


def scvi_fit(python: Path, path: Path, work: Path, seed: int, epochs: int) -> tuple:
    settings = {
        "train": str(path),
        "test": None,
        "embed": None,
        "batch_key": None,
        "n_latent": N_LATENT,
        "n_hidden": N_HIDDEN,
        "epochs": epochs,
        "batch_size": BATCH_SIZE,
        "threads": torch.get_num_threads(),
        "seed": seed,
        "elbo_samples": 1,
        "linear": True,
    }
    res = run_scvi(python, settings, work)
    return np.asarray(res["loadings"]), res["train_seconds"]


def one_seed(args, seed: int, python: Path | None, work: Path) -> dict:
    ds, w = simulate(seed, args.cells, args.genes, N_LATENT)
    out = {"seed": seed, "load_start": load_average(), "methods": {}}
    learned, secs = biovae_fit(ds, seed, args.epochs)
    out["methods"]["biovae (decoder linear)"] = {**angles(w, learned), "train_seconds": secs}
    if python is not None:
        path = write_h5ad(ds, work / f"ldvae{seed}.h5ad", ())
        learned, secs = scvi_fit(python, path, work, seed, args.epochs)
        out["methods"]["scvi-tools LinearSCVI"] = {**angles(w, learned), "train_seconds": secs}
    rng = np.random.default_rng(seed + 1000)
    out["methods"]["random loadings (scale)"] = {
        **angles(w, rng.normal(size=w.shape)),
        "train_seconds": 0.0,
    }
    out["load_end"] = load_average()
    return out


def markdown(results: list[dict]) -> str:
    return method_table(
        results,
        (
            ("largest angle (°)", "max_angle", ".2f"),
            ("mean angle (°)", "mean_angle", ".2f"),
            ("train s", "train_seconds", ".1f"),
        ),
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_simulation_args(p, cells=5000, genes=1000, epochs=200)
    p.add_argument("--out", default="bench-output/loadings")
    args = p.parse_args()
    out, python = output_and_scvi(args.out, args)
    results = run_seeds(args.seeds, lambda seed, work: one_seed(args, seed, python, work), markdown)
    write_json_atomic(
        out / "results.json", {"machine": machine_info(), "args": vars(args), "results": results}
    )
    print(markdown(results))
    for r in results:
        print(f"\nseed {r['seed']}: load {r['load_start']} → {r['load_end']}")


if __name__ == "__main__":
    main()
