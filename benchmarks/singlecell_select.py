"""Label-free selection of the CellBench conditional VAE's de-confounding settings (issue #4).

    python benchmarks/singlecell_select.py --threads 1 [--out bench-output/sc-select]

Uses only the benchmark's training cells (``split(ds, 0.1, 0)`` of ``singlecell.py``), split
again (``split(train, 0.1, 1)``) into inner-fit and inner-validation cells; the benchmark's 50
evaluation cells and the cell-line labels are never read. For every candidate of an a-priori
grid — the encoder reads the batch or not (scVI's ``encode_covariates=False``) × the MMD
penalty λ ∈ {0, 10, 100, 1000} (``objective.mmd_batch``) — one conditional VAE (seed 0, the
benchmark's settings otherwise) is fitted on the inner-fit cells and scored by

* its ELBO on the inner-validation cells (nats per cell, 10 draws of z, eval mode), and
* label-free batch mixing of the posterior means of all training cells: the mean of iLISI
  (scaled) and kBET acceptance, computed from the platform alone.

Rule (fixed before the first fit): E0 = the better inner-validation ELBO of the two λ = 0 fits;
candidates whose ELBO is within 0.5 % of E0 are admissible; the admissible candidate with the
highest mixing wins; mixing within 0.01 of the best is a tie, broken by the smaller λ and then
by the encoder that does not read the batch (scVI's default). Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import load_average
from biovae.cli.diagnostics_cmds import split
from biovae.diagnostics.integration import ilisi, kbet_acceptance
from diagnostics import cellbench
from singlecell import conditional_config, fit_biovae, held_out

ENCODER_SEES_BATCH = (True, False)
MMD_WEIGHTS = (0.0, 10.0, 100.0, 1000.0)
ELBO_TOLERANCE, TIE = 0.005, 0.01


def choose(rows: list[dict]) -> dict:
    """The rule of the module docstring."""
    e0 = max(r["inner_elbo"] for r in rows if r["mmd_batch"] == 0)
    ok = [r for r in rows if r["inner_elbo"] >= e0 - ELBO_TOLERANCE * abs(e0)]
    best = max(r["mix"] for r in ok)
    tied = [r for r in ok if r["mix"] >= best - TIE]
    return min(tied, key=lambda r: (r["mmd_batch"], r["encode_covariates"]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="bench-output/sc-select")
    parser.add_argument("--threads", type=int)
    parser.add_argument("--epochs", type=int, default=400)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    ds, _ = cellbench(False)
    train, _ = split(ds, 0.1, 0)
    inner_fit, inner_val = split(train, 0.1, 1)
    batch = train.obs["batch"]
    rows = []
    for encode in ENCODER_SEES_BATCH:
        for mmd in MMD_WEIGHTS:
            t0 = time.perf_counter()
            est, _ = fit_biovae(inner_fit, conditional_config(args.epochs, 0, encode, mmd))
            z = est.transform(train)
            il = ilisi(z, batch)[1]
            kb = kbet_acceptance(z, batch)
            row = {
                "encode_covariates": encode,
                "mmd_batch": mmd,
                "inner_elbo": held_out(est, inner_val)["elbo"],
                "ilisi_scaled": il,
                "kbet_acceptance": kb,
                "mix": (il + kb) / 2,
                "seconds": time.perf_counter() - t0,
                "load": load_average(),
            }
            rows.append(row)
            print(json.dumps(row), file=sys.stderr, flush=True)
            (out / "select.jsonl").open("a").write(json.dumps(row) + "\n")
    pick = choose(rows)
    print("| encoder reads batch | MMD λ | inner-val ELBO | iLISI (scaled) | kBET | mix |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        mark = " **chosen**" if r is pick else ""
        print(
            f"| {'yes' if r['encode_covariates'] else 'no'} | {r['mmd_batch']:g} | "
            f"{r['inner_elbo']:.2f} | {r['ilisi_scaled']:.3f} | {r['kbet_acceptance']:.3f} | "
            f"{r['mix']:.3f}{mark} |"
        )
    print(f"\ninner split: {len(inner_fit)} fit, {len(inner_val)} validation cells")
    return 0


if __name__ == "__main__":
    sys.exit(main())
