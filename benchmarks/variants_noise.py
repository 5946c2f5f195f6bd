"""Label-free A/B of training settings for the variational family model (issue #3).

    python benchmarks/variants_noise.py [--minutes 4] [--marks 2,4] [--seeds 0,1]
        [--vary model.weight_noise=shared,local]

``--vary FIELD=A,B`` names one field of the variants config (dotted, as in a config file) and
the values to compare: run 7b compared shared and per-record weight noise
(``model.weight_noise``), run 8a the learning-rate schedule (``train.lr_schedule``). Every
setting targets the same objective, the variational free energy per effective sequence
F = Σ_i w_i E_q(θ)[ELBO(x_i; θ)] / Neff − KL(q(θ) || p(θ)) / Neff (and its data term, the
first sum, reported beside: the weight KL dominates F early on). Each value is trained for the
same wall time (bfloat16, no held-out set, 2 threads: the protocol of issue #3's runs 6–8), and
F of the model at each mark is estimated on every sequence of the alignment with S draws of
(θ, z). No DMS label is read: this chooses an optimiser, not a model by its ranking.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import load_average
from biovae.applications.variants.config import VariantsConfig
from biovae.applications.variants.train import fit_family
from biovae.applications.variants.weights import sequence_weights
from biovae.config import from_dict, merge, to_dict
from biovae.objectives import Batch, elbo
from variants import A2M, read_alignment


@torch.no_grad()
def free_energy(model, codes: np.ndarray, w: np.ndarray, draws: int = 4) -> tuple[float, float]:
    """(F, data term) per effective sequence with ``draws`` joint draws of (θ, z), seeded and
    the same for every model; F = data term − KL(q(θ) || p(θ)) / Neff."""
    x = torch.from_numpy(codes.astype(np.int64))
    wt = torch.as_tensor(w, dtype=torch.float64)
    gen = torch.Generator().manual_seed(0)
    data = kl_w = 0.0
    for _ in range(draws):
        theta, kl = model.draw_decoder(1.0, generator=gen)
        with model.drawn(theta), torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(torch.randint(0, 2**31, (1,), generator=gen)))
            parts = [
                elbo(model, Batch(x[i : i + 1024]), 1.0).elbo_n for i in range(0, len(x), 1024)
            ]
            e = torch.cat(parts)
        data += float(e.double() @ wt) / draws
        kl_w += float(kl) / draws
    neff = float(wt.sum())
    return (data - kl_w) / neff, data / neff


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--minutes", type=float, default=4.0)
    p.add_argument("--marks", default="2,4")
    p.add_argument("--seeds", default="0,1")
    p.add_argument("--vary", default="model.weight_noise=shared,local", metavar="FIELD=A,B")
    p.add_argument("--out", default="bench-output/variants-noise")
    args = p.parse_args()
    aln = read_alignment(A2M)
    w = sequence_weights(aln.codes, aln.gap, len(aln.alphabet), 0.2)
    field, values = args.vary.split("=")
    section, key = field.split(".")
    marks = [float(m) * 60 for m in args.marks.split(",")]
    rows = []
    seeds = [int(s) for s in args.seeds.split(",")]
    for i, seed in enumerate(seeds):  # alternate the order between seeds (host drift)
        modes = values.split(",")[:: 1 if i % 2 == 0 else -1]
        for mode in modes:
            base = from_dict(
                VariantsConfig, merge(to_dict(VariantsConfig()), {section: {key: mode}})
            )
            model_cfg = replace(base.model, bayesian=True)
            train = replace(base.train, steps=10**9, max_minutes=args.minutes, seed=seed,
                            precision="bfloat16", validation_fraction=0.0)  # fmt: skip
            found = []

            def keep(seconds, model, found=found):
                found.append((seconds, model))

            t0 = time.perf_counter()
            model, hist = fit_family(
                aln.codes, w, len(aln.alphabet), model_cfg, train,
                snapshot_seconds=tuple(marks[:-1]), on_snapshot=keep,
            )  # fmt: skip
            wall = time.perf_counter() - t0
            found.append((hist[-1]["seconds"], model))
            steps = hist[-1]["step"]
            for seconds, m in found:
                f, data = free_energy(m, aln.codes, w)
                row = {"mode": mode, "seed": seed, "train_s": seconds, "F": f, "data": data,
                       "updates": steps, "ms_per_update": 1e3 * hist[-1]["seconds"] / steps,
                       "wall_s": wall, "load": load_average()}  # fmt: skip
                rows.append(row)
                print(json.dumps(row), file=sys.stderr, flush=True)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "noise.json").write_text(json.dumps(rows, indent=2))
    print(f"| {field} | seed | training min | F | data term | updates in run | ms / update |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['mode']} | {r['seed']} | {r['train_s'] / 60:.1f} | {r['F']:.2f} | "
              f"{r['data']:.2f} | "
              f"{r['updates']} | {r['ms_per_update']:.0f} |")  # fmt: skip


if __name__ == "__main__":
    main()
