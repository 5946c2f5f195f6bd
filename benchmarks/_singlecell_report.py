"""Markdown tables of the single-cell benchmark's JSON (the rows pasted into RESULTS.md)."""

from __future__ import annotations

import statistics

from _common import markdown_table
from _singlecell_ssl import ssl_markdown

METRICS = (
    ("batch_asw", "batch ASW"),
    ("ilisi_scaled", "iLISI (scaled)"),
    ("kbet_acceptance", "kBET accept."),
    ("label_asw", "cell-line ASW"),
    ("clisi_scaled", "cLISI (scaled)"),
    ("ari", "ARI (k-means, 3)"),
    ("nmi", "NMI"),
)


def _f(v, digits: int = 3) -> str:
    return "n/a" if v is None else f"{v:.{digits}f}"


def _mean(values: list) -> float | None:
    """The mean, or None where a run lacks the metric (results from before it existed)."""
    return None if None in values else statistics.mean(values)


def _times(values: list[float]) -> str:
    return ", ".join(f"{v:.1f}" for v in values)


def cellbench_md(r: dict) -> list[str]:
    lines = [
        f"CellBench: {r['cells']} cells × {r['genes']} genes (top by total count), "
        f"{r['train']} for training, the rest held out; {r['epochs']} epochs. Metrics on all "
        "cells' embeddings (posterior means), batch = platform, labels = cell line.",
        "",
        markdown_table(
            ["embedding", *(label for _, label in METRICS)],
            [[name, *(_f(m.get(k)) for k, _ in METRICS)] for name, m in r["metrics"].items()],
        ),
        "",
    ]
    rows = []
    for name in ("biovae VAE", "biovae conditional VAE", "scVI"):
        h = r.get(f"{name} held-out")
        if h:
            rows.append([name, _f(h["elbo"], 2), _f(h["recon_nll"], 2), _f(h["kl"], 2)])
    lines += [
        "Held-out cells (nats per cell, mean over 10 draws of z, dropout off):",
        "",
        markdown_table(["model", "ELBO", "reconstruction NLL", "KL"], rows),
        "",
    ]
    lines += seeds_md(r)
    if "scVI train seconds" in r:
        b = r["biovae conditional VAE fit seconds, fresh process"]
        s = r["scVI train seconds"]
        lines += [
            f"Training wall time (s), interleaved rounds, each fit in a fresh process: biovae "
            f"fit {_times(b)} (train.compile = {r.get('compile', 'auto')}; the in-process fit "
            f"above: {_times(r['biovae conditional VAE fit seconds'])}); scVI train "
            f"{_times(s)} (+ setup {_times(r['scVI setup seconds'])}); ratio of medians "
            f"biovae/scVI = {statistics.median(b) / statistics.median(s):.3f}. "
            f"scvi-tools {r['scVI version']}; scVI's own get_elbo = {r['scVI get_elbo']:.2f}.",
            "",
        ]
    return lines


def seeds_md(r: dict) -> list[str]:
    """Per-seed metrics and held-out ELBO of the conditional VAE and scVI (seed 0: above)."""
    seeds = r.get("seeds", {})
    rows = []
    for name in ("biovae conditional VAE", "scVI"):
        if f"{name} held-out" not in r:
            continue
        per_seed = {0: {**r["metrics"][name], "elbo": r[f"{name} held-out"]["elbo"]}}
        per_seed.update({int(k): v for k, v in seeds.get(name, {}).items()})
        if len(per_seed) < 2:
            continue
        for seed, m in sorted(per_seed.items()):
            rows.append(
                [f"{name}, seed {seed}", *(_f(m.get(k)) for k, _ in METRICS), _f(m["elbo"], 2)]
            )
        keys = [k for k, _ in METRICS] + ["elbo"]
        means = [_mean([m.get(k) for m in per_seed.values()]) for k in keys]
        rows.append([f"{name}, mean", *(_f(v) for v in means[:-1]), _f(means[-1], 2)])
    if not rows:
        return []
    head = ["model, seed", *(label for _, label in METRICS), "held-out ELBO"]
    return [
        "Seeds (model initialisation and training order; same split):",
        "",
        markdown_table(head, rows),
        "",
    ]


def timing_md(r: dict) -> list[str]:
    line = (
        f"Synthetic NB ({r['cells']} cells × {r['genes']} genes, 2 batches, {r['epochs']} epochs, "
        f"batch 128): biovae fit {_times(r['biovae'])} s "
        f"({'fresh processes' if r.get('fresh') else 'in-process'}, train.compile = "
        f"{r.get('compile', 'auto')})"
    )
    if r["scVI"]:
        ratio = statistics.median(r["biovae"]) / statistics.median(r["scVI"])
        line += f"; scVI train {_times(r['scVI'])} s; ratio of medians biovae/scVI = {ratio:.3f}"
    loads = ", ".join(f"{v[0]:.1f}" for v in r["load"] if v)
    return [line + f" (1-min load before each fit: {loads}).", ""]


def markdown(results: dict) -> str:
    m = results["machine"]
    lines = [
        f"Run {m['date']} · `{results['command']}` · {m['cpu']}, {m['nproc']} cores, torch "
        f"{m['torch']}, {m['threads']} threads · load {m['load_average_start']} → "
        f"{m.get('load_average_end')}",
        "",
    ]
    if "cellbench" in results:
        lines += cellbench_md(results["cellbench"])
    if "ssl" in results:
        lines += ssl_markdown(results["ssl"])
    if "timing" in results:
        lines += timing_md(results["timing"])
    if "embryo" in results:
        e = results["embryo"]
        lines += [
            "Embryo (Guo 2010, 428 cells × 48 genes, Gaussian likelihood): Spearman ρ between "
            "diffusion pseudotime (root: the 2-cell stage's extreme cell) and num_cells: "
            + ", ".join(f"{k} {_f(v)}" for k, v in e.items() if k != "seconds"),
            "",
        ]
    if "pbmc" in results:
        lines += [f"pbmc68k_reduced: report with latent map by bulk_labels: {results['pbmc']}", ""]
    return "\n".join(lines)
