"""Diagnostics on real data (issue #5): rate–distortion curves, amortization gaps and generative
fidelity (VAE vs plain autoencoder vs PCA) on BLAT_ECOLX sequences and CellBench counts.

    python benchmarks/diagnostics.py [--quick] [--out bench-output/diagnostics]

Reads ``$BIOVAE_DATA_DIR`` (default ``../shared/data``); skips a data set that is absent.
Writes JSON + HTML per data set and prints Markdown tables for benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine_info, markdown_table
from biovae.cli.diagnostics_cmds import split
from biovae.config import (
    FitConfig,
    LikelihoodConfig,
    ModelConfig,
    NetworkConfig,
    ObjectiveConfig,
    TrainConfig,
)
from biovae.data.dataset import Dataset
from biovae.data.readers import read_dataset
from biovae.diagnose import DiagnoseOptions, diagnose, fidelity_comparison, sweep
from biovae.estimator import VAE
from biovae.reports.diagnostics_page import write_diagnostics_report

REPO = Path(__file__).resolve().parents[1]
BLAT = "protein/BLAT_ECOLX_hmmerbit_plmc_n5_m30_f50_t0.2_r24-286_id100_b105.a2m"
CELLBENCH = "singlecell/cellbench_3cl_2platforms.h5ad"
BETAS = (0.1, 0.3, 1.0, 3.0, 10.0)


def data_dir() -> Path:
    return Path(os.environ.get("BIOVAE_DATA_DIR", REPO.parent / "shared" / "data"))


def blat(quick: bool) -> tuple[Dataset, FitConfig]:
    ds = read_dataset(data_dir() / BLAT, drop_invalid=True)
    cfg = FitConfig(
        model=ModelConfig(
            n_latent=30,
            likelihood=LikelihoodConfig("categorical"),
            network=NetworkConfig(
                hidden=(512, 256), dropout=0.1, decoder_dropout=0.1, norm="layer"
            ),
        ),
        objective=ObjectiveConfig(kl_warmup_epochs=5),
        train=TrainConfig(epochs=8 if quick else 40, batch_size=128, lr=1e-3, patience=10),
    )
    return ds, cfg


def cellbench(quick: bool) -> tuple[Dataset, FitConfig]:
    ds = read_dataset(data_dir() / CELLBENCH)
    x = ds.x.tocsc() if hasattr(ds.x, "tocsc") else ds.x
    totals = np.asarray(x.sum(0)).ravel()
    keep = np.sort(np.argsort(-totals)[:2000])  # the 2,000 genes with most counts
    ds = Dataset(
        ds.x[:, keep],
        ds.ids,
        tuple(np.asarray(ds.features)[keep]),
        ds.obs,
        source=f"{ds.source} (top 2,000 genes)",
    )
    cfg = FitConfig(
        model=ModelConfig(
            n_latent=10,
            likelihood=LikelihoodConfig("nb"),
            network=NetworkConfig(hidden=(128,), dropout=0.1, decoder_dropout=0.1, norm="layer"),
        ),
        objective=ObjectiveConfig(kl_warmup_epochs=20),
        train=TrainConfig(epochs=30 if quick else 200, batch_size=64, lr=1e-3, patience=20),
    )
    return ds, cfg


def run(name: str, ds: Dataset, cfg: FitConfig, quick: bool, out: Path) -> dict:
    t0 = time.perf_counter()
    train, held_out = split(ds, 0.2, cfg.train.seed)
    est = VAE(config=cfg).fit(train)
    opts = DiagnoseOptions(
        iwae_k=200 if quick else 1000,
        gap_records=50 if quick else 200,
        gap_steps=200 if quick else 500,
    )
    # a random 500 of the held-out records: file order is not random (an a2m lists the focus's
    # closest homologues first), so the first 500 would be easier than the rest
    rng = np.random.default_rng(cfg.train.seed)
    pick = np.sort(rng.permutation(len(held_out))[:500])
    sub = held_out if len(held_out) <= 500 else held_out.subset(pick)
    results = {
        "model": {
            "data": name,
            "records": len(ds),
            "held_out": len(held_out),
            "likelihood": cfg.model.likelihood.name,
            "n_latent": cfg.model.n_latent,
            "hidden": list(cfg.model.network.hidden),
            "epochs_run": len(est.history_),
        },
        **diagnose(est, sub, opts),
    }
    results["sweep"] = sweep(train, held_out, (0.3, 3.0) if quick else BETAS, cfg)
    results["fidelity"] = fidelity_comparison(train, held_out, cfg)
    results["seconds"] = time.perf_counter() - t0
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.json").write_text(json.dumps(results, indent=2, default=float))
    write_diagnostics_report(out / f"{name}.html", results, title=f"Diagnostics: {name}")
    return results


def summary(name: str, r: dict) -> str:
    gap, ll, col = r["amortization"], r["log_likelihood"], r["collapse"]
    lines = [
        f"### {name}",
        "",
        f"- held-out IWAE-{ll['k']} log p(x) = {ll['mean']:.3f} ± {ll['se_records']:.3f} "
        f"(records) ± {ll['se_monte_carlo']:.4f} (Monte Carlo) nats/record",
        f"- amortized ELBO {gap['amortized_elbo']:.3f}, refined {gap['refined_elbo']:.3f}, "
        f"log p(x) {gap['log_px']:.3f} on {gap['n']} records; amortization gap "
        f"{gap['amortization_gap']:.3f} ± {gap['amortization_gap_se']:.3f}, approximation "
        f"gap {gap['approximation_gap']:.3f} ± {gap['approximation_gap_se']:.3f}",
        f"- collapse: {col['verdict']}",
        "",
        "Rate–distortion (held-out, nats/record):",
        "",
    ]
    lines.append(
        markdown_table(
            ["β", "rate", "distortion", "ELBO", "active units"],
            [
                [
                    f"{p['beta']:g}",
                    f"{p['rate']:.3f}",
                    f"{p['distortion']:.3f}",
                    f"{p['elbo']:.3f}",
                    p["active_units"],
                ]
                for p in r["sweep"]
            ],
        )
    )
    metrics = list(next(iter(r["fidelity"].values())))
    lines += [
        "",
        "Prior samples vs held-out data:",
        "",
        markdown_table(
            ["model", *metrics],
            [[m, *(f"{v[k]:.4f}" for k in metrics)] for m, v in r["fidelity"].items()],
        ),
        "",
        f"({r['seconds']:.0f} s)",
        "",
    ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few epochs (smoke test)")
    parser.add_argument("--out", default="bench-output/diagnostics")
    parser.add_argument("--only", choices=("blat", "cellbench"))
    args = parser.parse_args()
    torch.manual_seed(0)
    print(json.dumps(machine_info()), file=sys.stderr)
    for name, loader, path in (("blat", blat, BLAT), ("cellbench", cellbench, CELLBENCH)):
        if args.only and args.only != name:
            continue
        if not (data_dir() / path).exists():
            print(f"skipping {name}: {data_dir() / path} not found (set BIOVAE_DATA_DIR)")
            continue
        ds, cfg = loader(args.quick)
        print(summary(name, run(name, ds, cfg, args.quick, Path(args.out))), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
