"""Diagnostic for issue #3 on a lent accelerator: Spearman ρ of single family VAEs and of their
ensembles as training grows far past the 2-CPU budget.

    python benchmarks/variants_long.py member --seed 100 --minutes 6 --marks 1.5,3,4.5 \\
        --device cuda --out DIR      # one member; run several at once, one seed each
    python benchmarks/variants_long.py combine DIR    # member and ensemble ρ at each mark

Each member is the benchmark's budgeted model (variational decoder weights, no held-out guard,
constant learning rate, float32) with its own seed; at each mark of training time it scores the
DMS single mutants (S = 50 draws, scoring seed 0) and rewrites ``DIR/member-SEED.npz``. The DMS
labels only report ρ; nothing is chosen on them. Not an acceptance run (the issue's budget is
15 minutes on two CPU cores).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from biovae.applications.variants import scoring
from biovae.applications.variants.alignment import read_alignment
from biovae.applications.variants.config import VariantsConfig
from biovae.applications.variants.train import fit_family
from biovae.applications.variants.weights import sequence_weights
from variants import A2M, dms_mutants, rho


def member(args: argparse.Namespace) -> None:
    aln = read_alignment(A2M)
    w = sequence_weights(aln.codes, aln.gap, len(aln.alphabet), 0.2)
    table, mapped = dms_mutants(aln)
    fitness = table["2500"].to_numpy()[mapped.ok]
    codes = mapped.codes[mapped.ok]
    base = VariantsConfig()
    model_cfg = replace(base.model, bayesian=True)
    train = replace(
        base.train,
        steps=10**9,
        max_minutes=args.minutes,
        seed=args.seed,
        precision="float32",
        validation_fraction=0.0,
        patience=0,
        device=args.device,
    )
    marks = sorted({*args.marks, args.minutes})
    scores, rhos, seconds = [], [], []
    path = Path(args.out) / f"member-{args.seed}.npz"

    def on_snapshot(secs: float, model) -> None:
        t0 = time.perf_counter()
        mean, _ = scoring.delta_elbo(model, aln.focus, codes, args.samples, seed=0)
        scores.append(mean)
        rhos.append(rho(mean, fitness))
        seconds.append(secs)
        tmp = path.with_suffix(".tmp.npz")
        np.savez(tmp, scores=np.stack(scores), rho=rhos, seconds=seconds, fitness=fitness)
        os.replace(tmp, path)
        took = time.perf_counter() - t0
        print(
            f"seed {args.seed}: {secs / 60:.2f} min ρ {rhos[-1]:.4f} ({took:.1f} s)",
            file=sys.stderr,
        )

    model, history = fit_family(
        aln.codes,
        w,
        len(aln.alphabet),
        model_cfg,
        train,
        snapshot_seconds=tuple(m * 60 for m in marks[:-1]),
        on_snapshot=on_snapshot,
    )
    on_snapshot(history[-1]["seconds"], model)
    steps = [max((h["step"] for h in history if h["seconds"] <= s), default=0) for s in seconds]
    np.savez(path, scores=np.stack(scores), rho=rhos, seconds=seconds, fitness=fitness, steps=steps)


def combine(out: Path) -> dict:
    runs = {p.stem: np.load(p) for p in sorted(out.glob("member-*.npz")) if ".tmp" not in p.name}
    fitness = next(iter(runs.values()))["fitness"]
    n_marks = min(len(r["rho"]) for r in runs.values())
    names = list(runs)
    res: dict = {"members": names, "marks": []}
    for i in range(n_marks):
        row = {
            "minutes": [float(runs[n]["seconds"][i]) / 60 for n in names],
            "steps": [int(runs[n]["steps"][i]) if "steps" in runs[n] else None for n in names],
            "member_rho": [float(runs[n]["rho"][i]) for n in names],
        }
        for k in range(2, len(names) + 1):
            mean = np.mean([runs[n]["scores"][i] for n in names[:k]], axis=0)
            row[f"ensemble_{k}_rho"] = rho(mean, fitness)
        res["marks"].append(row)
    return res


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("member")
    m.add_argument("--seed", type=int, required=True)
    m.add_argument("--minutes", type=float, default=6.0)
    m.add_argument(
        "--marks", type=lambda s: [float(v) for v in s.split(",")], default=[1.5, 3, 4.5]
    )
    m.add_argument("--samples", type=int, default=50)
    m.add_argument("--device", default="cuda")
    m.add_argument("--out", required=True)
    c = sub.add_parser("combine")
    c.add_argument("out")
    args = p.parse_args()
    if args.cmd == "member":
        Path(args.out).mkdir(parents=True, exist_ok=True)
        member(args)
    else:
        print(json.dumps(combine(Path(args.out)), indent=2))


if __name__ == "__main__":
    main()
