"""Posterior predictive checks of count likelihoods on real data (CellBench).

    python benchmarks/predictive.py [--out bench-output/predictive]

CellBench (2,000 genes with most counts), 80 % of the cells for training and 20 % held out
(seed 0). One VAE per likelihood — Poisson, NB, ZINB — with scVI's architecture (10 latent
dimensions, one hidden layer of 128, batch norm, dropout 0.1), conditioned on the platform,
400 epochs with KL warm-up over all of them, batch 128. On the held-out cells: the share of
genes whose observed mean, standard deviation and zero fraction fall outside the central 95 %
of 30 posterior predictive replicates (and above / below every replicate), the verdict, and the
held-out ELBO (mean of 10 draws). Prints Markdown for RESULTS.md and writes ``results.json``.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine_info, write_json_atomic
from biovae.cli.diagnostics_cmds import split
from biovae.config import LikelihoodConfig
from biovae.diagnostics.predictive import posterior_predictive
from biovae.estimator import VAE
from biovae.training import seeded
from diagnostics import cellbench
from singlecell import nb_config

LIKELIHOODS = ("poisson", "nb", "zinb")


def one(name: str, train, held_out, epochs: int, dispersion: str = "gene") -> dict:
    cfg = nb_config(epochs, "batch", epochs)
    lik = LikelihoodConfig(name, dispersion=dispersion if name != "poisson" else "gene")
    cfg = dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, likelihood=lik))
    est = VAE(config=cfg).fit(train)
    with seeded(0):
        check = posterior_predictive(est.model_, est.batches(held_out), 30).to_dict()
    stats = {
        k: {m: v[m] for m in ("share_outside", "share_above_all", "share_below_all")}
        for k, v in check["statistics"].items()
    }
    elbo = float(np.mean(est.score_samples(held_out, n_samples=10)))
    return {"statistics": stats, "verdict": check["verdict"], "held_out_elbo": elbo}


def markdown(results: dict) -> str:
    lines = [
        "| likelihood | held-out ELBO | mean: outside / above / below | sd: outside / above / "
        "below | zero fraction: outside / above / below |",
        "|---|---|---|---|---|",
    ]
    for name, r in results.items():
        cells = [
            " / ".join(
                f"{r['statistics'][k][m]:.2f}"
                for m in ("share_outside", "share_above_all", "share_below_all")
            )
            for k in ("mean", "sd", "zero_fraction")
        ]
        lines.append(f"| {name} | {r['held_out_elbo']:.1f} | " + " | ".join(cells) + " |")
    lines += ["", *(f"* {name}: {r['verdict']}" for name, r in results.items())]
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--epochs", type=int, default=400)
    p.add_argument("--out", default="bench-output/predictive")
    p.add_argument("--dispersion", default="gene", help="NB/ZINB θ: gene or gene-batch")
    p.add_argument("--likelihoods", default=",".join(LIKELIHOODS))
    args = p.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    ds, _ = cellbench(quick=False)
    train, held_out = split(ds, 0.2, 0)
    names = args.likelihoods.split(",")
    results = {name: one(name, train, held_out, args.epochs, args.dispersion) for name in names}
    write_json_atomic(out / "results.json", {"machine": machine_info(), "results": results})
    print(markdown(results))


if __name__ == "__main__":
    main()
