"""biovae and scVI on a GPU beside the same machine's CPU cores (lent accelerator; diagnostic).

    python benchmarks/gpu.py --out gpu.json [--cells 20000 --genes 2000 --epochs 3 --rounds 2 \\
        --batch-size 128]

The single-cell timing run of ``singlecell.py`` moved to a machine with a GPU: the NB-VAE
conditioned on the batch with scVI's architecture (10 latent, one hidden layer of 128, batch
norm, dropout 0.1, batch 128, KL warm-up over all epochs) on the synthetic NB counts of the
timing benchmark (20,000 cells × 2,000 genes, CSR), trained by

* biovae with ``train.device = cpu`` (all the machine's cores) and ``cuda``, and
* scvi-tools 1.4.2 with ``accelerator = cpu`` and ``gpu`` (same settings, ``scvi_worker.py``),

each fit in a fresh process and timed the same way (the training call only), interleaved round
by round with the order reversed every other round. Both tools keep the data in host memory and
move each minibatch to the device. Quality check: held-out ELBO per cell (2,000 fresh cells of
the same generator, 10 draws) of scVI in every run and of one in-process biovae fit per device.
Extra: biovae at batch 1,024 on both devices (one round), what a larger batch buys on a GPU.

Not an acceptance run (issue #4 sets its ratio on 2 CPU cores); nothing is chosen on it.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _scvi import run_scvi, write_h5ad
from _synthetic_nb import synthetic_nb
from biovae.config import to_dict
from biovae.estimator import VAE
from biovae_fit_worker import run_biovae_fresh
from singlecell import BATCH_SIZE, ELBO_SAMPLES, N_HIDDEN, N_LATENT, conditional_config, held_out


def configured(epochs: int, batch_size: int, device: str):
    cfg = conditional_config(epochs)
    return dataclasses.replace(
        cfg, train=dataclasses.replace(cfg.train, batch_size=batch_size, device=device)
    )


def scvi_settings(paths: dict, epochs: int, batch_size: int, accelerator: str) -> dict:
    return {
        "train": str(paths["train"]),
        "test": str(paths["test"]),
        "embed": None,
        "batch_key": "batch",
        "n_latent": N_LATENT,
        "n_hidden": N_HIDDEN,
        "epochs": epochs,
        "batch_size": batch_size,
        "threads": torch.get_num_threads(),
        "seed": 0,
        "elbo_samples": ELBO_SAMPLES,
        "accelerator": accelerator,
    }


def timed_in_process(train, test, cfg) -> dict:
    t0 = time.perf_counter()
    est = VAE(config=cfg, progress=False).fit(train)
    if cfg.train.device.startswith("cuda"):
        torch.cuda.synchronize()
    row = {"seconds": time.perf_counter() - t0}
    row.update(held_out(est, test))
    return row


def side_by_side(args, paths: dict, work: Path, scvi_ok: bool) -> list[dict]:
    """Fresh-process fits of both tools on both devices, interleaved round by round."""
    runs = []
    gpu = args.gpu
    jobs = [("biovae", "cpu"), ("biovae", gpu)]
    if scvi_ok:
        jobs += [("scVI", "cpu"), ("scVI", gpu)]
    for r in range(args.rounds):
        for tool, device in jobs if r % 2 == 0 else jobs[::-1]:
            row = {"tool": tool, "device": device, "round": r}
            if tool == "biovae":
                cfg = configured(args.epochs, args.batch_size, device)
                row["seconds"] = run_biovae_fresh(
                    to_dict(cfg), paths["train"], work, torch.get_num_threads()
                )
            else:
                acc = "gpu" if device.startswith("cuda") else "cpu"
                settings = scvi_settings(paths, args.epochs, args.batch_size, acc)
                out = run_scvi(sys.executable, settings, work)
                row["seconds"] = out["train_seconds"]
                row["held_out"] = out["held_out"]
            runs.append(row)
            print(json.dumps(row), file=sys.stderr, flush=True)
    return runs


def run(args: argparse.Namespace, scvi_ok: bool) -> dict:
    train = synthetic_nb(args.cells, args.genes, seed=0)
    test = synthetic_nb(2000, args.genes, seed=1)
    res: dict = {
        "machine": {
            "gpu": torch.cuda.get_device_name(0) if args.gpu == "cuda" else None,
            "cpu_threads": torch.get_num_threads(),
            "torch": torch.__version__,
            "python": platform.python_version(),
        },
        "cells": args.cells,
        "genes": args.genes,
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "scvi": scvi_ok,
    }
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        paths = {
            "train": write_h5ad(train, work / "train.h5ad", ("batch",)),
            "test": write_h5ad(test, work / "test.h5ad", ("batch",)),
        }
        res["fresh"] = side_by_side(args, paths, work, scvi_ok)
    res["in_process"] = []
    for batch_size in (BATCH_SIZE, 1024):
        for device in ("cpu", args.gpu):
            row = {"device": device, "batch_size": batch_size}
            row.update(timed_in_process(train, test, configured(args.epochs, batch_size, device)))
            res["in_process"].append(row)
            print(json.dumps(row), file=sys.stderr, flush=True)
    return res


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--cells", type=int, default=20000)
    p.add_argument("--genes", type=int, default=2000)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--batch-size", type=int, default=BATCH_SIZE, help="of the side-by-side fits")
    p.add_argument("--out", required=True)
    p.add_argument("--gpu", default="cuda", help="accelerator (cpu: a smoke test of the script)")
    args = p.parse_args()
    if args.gpu == "cuda" and not torch.cuda.is_available():
        print("gpu.py needs a CUDA device", file=sys.stderr)
        return 2
    try:
        import scvi  # noqa: F401

        scvi_ok = True
    except Exception as exc:  # report and time biovae alone
        print(f"scvi-tools does not import here ({exc!r}); timing biovae only", file=sys.stderr)
        scvi_ok = False
    res = run(args, scvi_ok)
    Path(args.out).write_text(json.dumps(res, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
