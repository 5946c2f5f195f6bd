"""Sequence families and variant effects (issue #3): weights, BLAT_ECOLX Spearman ρ vs the
Stiffler 2015 DMS, time-vs-ρ curve, ensemble, independent-site baseline, DNA splice junctions.

    python benchmarks/variants.py [--quick] [--threads 1] [--out bench-output/variants]

Reads ``$BIOVAE_DATA_DIR`` (default ``../shared/data``). Hyper-parameters are fixed a priori
(DeepSequence's published architecture, Adam 1e-3, batch 100); the DMS labels are only used to
report ρ, never to choose anything. Prints Markdown tables for benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from scipy.stats import spearmanr

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import load_average, machine_info, markdown_table
from _variants_classes import class_agreement, classes_table
from _variants_splice import splice_section, splice_table
from biovae.applications.variants import family as fam
from biovae.applications.variants import mutations, scoring
from biovae.applications.variants.alignment import read_alignment
from biovae.applications.variants.config import FamilyTrainConfig, VariantsConfig
from biovae.applications.variants.train import fit_family
from biovae.applications.variants.weights import (
    naive_sequence_weights,
    sequence_weights,
)

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("BIOVAE_DATA_DIR", REPO.parent / "shared" / "data"))
A2M = DATA / "protein" / "BLAT_ECOLX_hmmerbit_plmc_n5_m30_f50_t0.2_r24-286_id100_b105.a2m"
DMS = DATA / "protein" / "BLAT_ECOLX_Ranganathan2015.csv"
SPLICE = DATA / "dna" / "splice_junctions.tsv"


def _load() -> str:
    la = load_average()
    return "n/a" if la is None else f"{la[0]:.1f}"


def weights_section(aln, quick: bool) -> dict:
    t = []
    for _ in range(1 if quick else 3):
        t0 = time.perf_counter()
        w = sequence_weights(aln.codes, aln.gap, len(aln.alphabet), 0.2)
        t.append(time.perf_counter() - t0)
    sub = aln.codes[:300]
    diff = np.abs(
        sequence_weights(sub, aln.gap, 21, 0.2, block=64) - naive_sequence_weights(sub, aln.gap)
    ).max()
    out = {"blat_seconds": t, "neff": float(w.sum()), "naive_max_abs_diff_300": float(diff)}
    for n in (2000, 10000) if quick else (10000, 100000):
        out[f"synthetic_{n}x500"] = _probe(n, 500)
    print(f"weights: {out}", file=sys.stderr)
    return out


def _probe(n: int, length: int) -> dict:
    """Run the synthetic weights probe in a child process, for an honest peak RSS."""
    cmd = [sys.executable, __file__, "--probe", f"{n},{length}"]
    res = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(res.stdout.strip().splitlines()[-1])


def probe(n: int, length: int) -> None:
    """Sequence weights of a synthetic n × length alignment, all rows.

    Sequences are mutated copies of 1,000 random ancestors (10 % substitutions, so siblings are
    ≈ 81 % identical and straddle the cut-off). Memory is bounded by the block size whatever n is.
    """
    rng = np.random.default_rng(0)
    anc = rng.integers(0, 20, (1000, length), dtype=np.uint8)
    codes = anc[rng.integers(0, 1000, n)]
    mask = rng.random(codes.shape) < 0.1
    codes[mask] = rng.integers(0, 21, int(mask.sum()), dtype=np.uint8)
    t0 = time.perf_counter()
    w = sequence_weights(codes, 20, 21, 0.2)
    secs = time.perf_counter() - t0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out = {"n": n, "L": length, "seconds": secs, "neff": float(w.sum()), "peak_rss_mib": rss}
    print(json.dumps(out))


def dms_mutants(aln) -> tuple[pd.DataFrame, mutations.MappedMutants]:
    table = pd.read_csv(DMS)
    mapped = mutations.map_mutants(list(table["mutant"]), aln.focus, aln.alphabet, aln.positions)
    return table, mapped


def rho(scores: np.ndarray, fitness: np.ndarray) -> float:
    return float(spearmanr(scores, fitness).statistic)


def _score(model, aln, codes, fitness, samples: int, seconds: float) -> dict:
    t0 = time.perf_counter()
    mean, se = scoring.delta_elbo(model, aln.focus, codes, samples, seed=0)
    out = {
        "train_min": seconds / 60,
        "rho": rho(mean, fitness),
        "score_s": time.perf_counter() - t0,
        "samples": samples,
        "mean_se": float(se.mean()),
        "load": _load(),
    }
    # the same call twice is bit-identical; scored as a subset (other batch shapes) a mutant
    # differs from its score in the whole table by float rounding only
    again, _ = scoring.delta_elbo(model, aln.focus, codes[:64], samples, seed=0)
    twice, _ = scoring.delta_elbo(model, aln.focus, codes[:64], samples, seed=0)
    out["deterministic"] = bool(np.array_equal(again, twice))
    out["subset_max_abs_diff"] = float(np.abs(again - mean[:64]).max())
    if model.bayesian:  # reported beside, never chosen on: the posterior-mean weights
        means, _ = scoring.delta_elbo(model, aln.focus, codes, samples, 0, sampled_weights=False)
        out["rho_mean_weights"] = rho(means, fitness)
    out["classes"] = class_agreement(mean, fitness)
    return out


def single_model_section(aln, w, mapped, fitness, args) -> dict:
    """One run to the last curve mark; the snapshot at ``--minutes`` is the budgeted model.

    That snapshot is scored with ``--samples`` draws (its training + scoring time is the
    15-minute budget); the other marks with ``--curve-samples`` draws.
    """
    cfg = VariantsConfig()
    cfg = replace(
        cfg, model=replace(cfg.model, bayesian=args.bayesian, weight_noise=args.weight_noise)
    )
    # patience 0: train the whole time budget (the model kept is still the best held-out one)
    cfg = replace(
        cfg,
        train=replace(
            cfg.train,
            precision=args.precision,
            patience=0,
            device=args.device,
            lr_schedule=args.lr_schedule,
        ),
    )
    marks = sorted({*args.curve, args.minutes})
    train = replace(
        cfg.train, steps=10**9, max_minutes=marks[-1], validation_fraction=args.validation_fraction
    )
    codes = mapped.codes[mapped.ok]
    curve, final = [], {}

    def on_snapshot(seconds, model):
        mark = marks[len(curve)]
        n = args.samples if mark == args.minutes else args.curve_samples
        curve.append({"mark_min": mark, **_score(model, aln, codes, fitness, n, seconds)})
        if mark == args.minutes:
            final.update(curve[-1])
        print(f"curve: {curve[-1]}", file=sys.stderr)

    model, history = fit_family(
        aln.codes,
        w,
        len(aln.alphabet),
        cfg.model,
        train,
        snapshot_seconds=tuple(m * 60 for m in marks[:-1]),
        on_snapshot=on_snapshot,
    )
    on_snapshot(history[-1]["seconds"], model)  # the last mark is the end of training
    done = [h["step"] for h in history if h["seconds"] <= final["train_min"] * 60]
    final["steps"] = max(done, default=0)  # to the nearest 100 below
    final["total_min"] = final["train_min"] + final["score_s"] / 60
    print(f"single: {final}", file=sys.stderr)
    val = [(h["step"], h["val_elbo"]) for h in history if "val_elbo" in h]
    return {"curve": curve, "final": final, "steps_total": history[-1]["step"], "val_elbo": val}


def ensemble_section(aln, mapped, fitness, args) -> dict:
    """Members differ only in seed (100, 101, ...); model, held-out share and precision as the
    single model's (``--bayesian``, ``--validation-fraction``, ``--precision``)."""
    base = VariantsConfig()
    train = FamilyTrainConfig(
        steps=10**9,
        max_minutes=args.ensemble_minutes,
        seed=100,
        precision=args.precision,
        validation_fraction=args.validation_fraction,
        lr_schedule=args.lr_schedule,
    )
    model = replace(base.model, bayesian=args.bayesian, weight_noise=args.weight_noise)
    cfg = replace(base, model=model, train=train, ensemble=args.ensemble)
    t0 = time.perf_counter()
    family = fam.fit(aln, cfg)
    train_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    codes = mapped.codes[mapped.ok]
    runs = [scoring.delta_elbo(m, aln.focus, codes, args.samples, 0) for m in family.members]
    score_s = time.perf_counter() - t0
    members = [rho(r[0], fitness) for r in runs]
    mean = np.mean([r[0] for r in runs], axis=0)
    if args.bayesian:  # reported beside, never chosen on: the posterior-mean weights
        means = [
            scoring.delta_elbo(m, aln.focus, codes, args.samples, 0, sampled_weights=False)[0]
            for m in family.members
        ]
    out = {
        "members": args.ensemble,
        "member_minutes": args.ensemble_minutes,
        "member_rho": members,
        "rho": rho(mean, fitness),
        "classes": class_agreement(mean, fitness),
        "train_s": train_s,
        "score_s": score_s,
        "load": _load(),
    }
    if args.bayesian:
        out["member_rho_mean_weights"] = [rho(m, fitness) for m in means]
        out["rho_mean_weights"] = rho(np.mean(means, axis=0), fitness)
    print(f"ensemble: {out}", file=sys.stderr)
    return out


def weights_table(w: dict) -> list[str]:
    rows = [["BLAT_ECOLX 8,355 × 253", ", ".join(f"{s:.2f}" for s in w["blat_seconds"])]]
    rows[0] += [f"Neff {w['neff']:.1f}", ""]
    for key, p in w.items():
        if key.startswith("synthetic"):
            rows.append(
                [
                    f"synthetic {p['n']:,} × {p['L']} (all rows)",
                    f"{p['seconds']:.1f}",
                    f"Neff {p['neff']:.1f}",
                    f"{p['peak_rss_mib']:.0f}",
                ]
            )
    return [
        "### Sequence weights (θ = 0.2)",
        "",
        markdown_table(["alignment", "seconds", "note", "peak RSS MiB"], rows),
        f"\nvectorised vs naive loop on 300 sequences: max |Δw| = {w['naive_max_abs_diff_300']:g}"
        "\n",
    ]


def _rho_row(label: str, r: dict) -> list:
    beside = f"{r['rho_mean_weights']:.3f}" if "rho_mean_weights" in r else ""
    return [label, f"{r['rho']:.3f}", beside, f"{r['score_s']:.0f}", r["load"]]


def dms_table(res: dict) -> list[str]:
    d = res["dms"]
    rows = [
        [
            "independent-site (same weights, pseudocount 1)",
            f"{d['independent_rho']:.3f}",
            "",
            "",
            "",
        ]
    ]
    if res.get("single"):
        for c in res["single"]["curve"]:
            label = f"VAE after {c['train_min']:.1f} min training (S = {c['samples']})"
            rows.append(_rho_row(label, c))
        f = res["single"]["final"]
        label = (
            f"VAE single, budgeted: {f['train_min']:.1f} min, ≈ {f['steps']} steps, "
            f"train + score {f['total_min']:.1f} min"
        )
        rows.append(_rho_row(label, f))
    if res.get("ensemble"):
        e = res["ensemble"]
        members = ", ".join(f"{r:.3f}" for r in e["member_rho"])
        label = f"ensemble of {e['members']} × {e['member_minutes']} min (members {members})"
        rows.append(_rho_row(label, e))
    return [
        "### BLAT_ECOLX vs DMS (fitness column 2500)",
        "",
        f"{d['mapped']} of {d['total']} DMS mutants mapped; unmapped reasons: {d['reasons']}",
        "",
        markdown_table(
            ["model", "Spearman ρ", "ρ, posterior-mean weights", "scoring s", "load"], rows
        ),
    ]


def tables(res: dict) -> str:
    lines = weights_table(res["weights"]) if res.get("weights") else []
    lines += dms_table(res) + classes_table(res)
    if res.get("splice"):
        lines += splice_table(res["splice"])
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--quick", action="store_true")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0 = default)")
    p.add_argument("--minutes", type=float, default=12.0)
    p.add_argument(
        "--curve", type=lambda s: [float(v) for v in s.split(",")], default=[1, 2, 5, 10, 15]
    )
    p.add_argument("--samples", type=int, default=50)
    p.add_argument("--curve-samples", type=int, default=20)
    p.add_argument("--ensemble", type=int, default=3)
    p.add_argument("--ensemble-minutes", type=float, default=4.0)
    p.add_argument("--bayesian", action="store_true", help="variational decoder weights")
    p.add_argument(
        "--weight-noise",
        default="shared",
        choices=("shared", "local"),
        help="with --bayesian: one weight draw per minibatch, or per record (both models)",
    )
    p.add_argument("--device", default="cpu", help="training device of the single model")
    p.add_argument(
        "--validation-fraction",
        type=float,
        default=0.05,
        help="held-out share of the single model (0 = keep the last model, no guard)",
    )
    p.add_argument(
        "--precision",
        default="bfloat16",
        choices=("float32", "bfloat16"),
        help="training matmuls (scoring is float32)",
    )
    p.add_argument(
        "--lr-schedule",
        default="constant",
        choices=("constant", "linear"),
        help="learning rate over each model's budget (linear: to 0 at the last curve mark)",
    )
    p.add_argument("--skip", default="", help="comma-separated sections to skip")
    p.add_argument("--out", default="bench-output/variants")
    p.add_argument("--probe", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.probe:
        probe(*(int(v) for v in args.probe.split(",")))
        return
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    skip = set(args.skip.split(","))
    res: dict = {"machine": machine_info(), "args": vars(args)}
    aln = read_alignment(A2M)
    res["alignment"] = {
        "n": len(aln),
        "L": aln.codes.shape[1],
        "dropped_invalid": aln.n_invalid,
        "dropped_gappy": aln.n_gappy,
    }
    res["weights"] = weights_section(aln, args.quick) if "weights" not in skip else {}
    w = sequence_weights(aln.codes, aln.gap, len(aln.alphabet), 0.2)
    table, mapped = dms_mutants(aln)
    fitness = table["2500"].to_numpy()[mapped.ok]
    site = scoring.site_log_frequencies(aln.codes, w, len(aln.alphabet))
    reasons = pd.Series([r.split(" (")[0].split(":")[0] for r in mapped.reasons if r])
    res["dms"] = {
        "total": len(table),
        "mapped": int(mapped.ok.sum()),
        "reasons": reasons.value_counts().to_dict(),
    }
    independent = scoring.independent_delta(site, aln.focus, mapped.codes[mapped.ok])
    res["dms"]["independent_rho"] = rho(independent, fitness)
    res["dms"]["classes"] = class_agreement(independent, fitness)
    print(f"dms: {res['dms']}", file=sys.stderr)
    if "single" not in skip:
        res["single"] = single_model_section(aln, w, mapped, fitness, args)
    if "ensemble" not in skip:
        res["ensemble"] = ensemble_section(aln, mapped, fitness, args)
    if "splice" not in skip:
        res["splice"] = splice_section(SPLICE, args.quick, out_dir)
    res["load_average_end"] = load_average()
    (out_dir / "variants.json").write_text(json.dumps(res, indent=2, default=str))
    print(json.dumps(res["machine"]))
    print(tables(res))


if __name__ == "__main__":
    main()
