"""Single-cell benchmark (issue #4): biovae vs PCA vs scVI on CellBench, semi-supervised biovae
vs scANVI with 5 % of CellBench labelled, timing on synthetic NB counts, diffusion pseudotime on
the Guo 2010 embryo time course, pbmc68k latent map.

    python benchmarks/singlecell.py [--quick] [--out bench-output/singlecell] [--no-scvi]
    python benchmarks/singlecell.py --only ssl --threads 1      # only the semi-supervised part

scVI runs in a separate virtual environment (``--scvi-env``, default bench-output/scvi-env),
created on first use: ``python -m venv``, ``pip install torch==2.13.0`` (the CPU build, first,
so scvi-tools does not pull a CUDA torch) and ``pip install scvi-tools==1.4.2``. It is driven by
``scvi_worker.py`` through files (.h5ad in, JSON out). Both tools get the same settings, scVI's
defaults for this data size: 10 latent dimensions, one hidden layer of 128, batch norm, dropout
0.1, batch size 128, Adam lr 1e-3, linear KL warm-up over all epochs (scVI:
``n_epochs_kl_warmup`` = epochs), 400 epochs on CellBench (scVI's default below 20,000 cells).
biovae's decoder has no dropout (its default since issue #4, as scVI's). The conditional VAE's
encoder does not read the batch (as scVI's) and an MMD penalty (λ = 1000) between platforms acts
on its posterior means, both chosen on the training cells alone by ``singlecell_select.py``;
``--seeds 0,1,2`` adds seeds of the conditional VAE and scVI. Reads ``$BIOVAE_DATA_DIR``
(default ../shared/data). Prints Markdown for RESULTS.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _singlecell_ssl as ssl
from _common import load_average, machine_info, write_json_atomic
from _scvi import run_scvi, scvi_python, write_h5ad
from _singlecell_report import markdown
from _synthetic_nb import synthetic_nb
from biovae.applications.trajectory import pseudotime
from biovae.cli.diagnostics_cmds import split
from biovae.config import (
    DataConfig,
    FitConfig,
    LikelihoodConfig,
    ModelConfig,
    NetworkConfig,
    ObjectiveConfig,
    TrainConfig,
    to_dict,
)
from biovae.data.dataset import Dataset
from biovae.data.readers import read_dataset
from biovae.diagnostics.integration import integration_metrics
from biovae.estimator import PCA, VAE
from biovae.objectives import elbo
from biovae.reports.html import write_report
from biovae.reports.sections_trajectory import (
    stage_spearman,
    trajectory_section,
    write_trajectory_report,
)
from biovae.training import seeded
from biovae_fit_worker import run_biovae_fresh
from diagnostics import CELLBENCH, cellbench, data_dir

REPO = Path(__file__).resolve().parents[1]
EMBRYO = "singlecell/guo2010_embryo.h5ad"
PBMC = "singlecell/pbmc68k_reduced_counts.h5ad"
N_LATENT, N_HIDDEN, BATCH_SIZE, ELBO_SAMPLES = 10, 128, 128, 10


def nb_config(epochs: int, batch_key: str | None, warmup: int) -> FitConfig:
    """biovae's NB-VAE with scVI's default architecture and optimiser settings."""
    return FitConfig(
        model=ModelConfig(
            n_latent=N_LATENT,
            likelihood=LikelihoodConfig("nb"),
            network=NetworkConfig(hidden=(N_HIDDEN,), dropout=0.1, norm="batch"),
        ),
        objective=ObjectiveConfig(kl_warmup_epochs=warmup),
        train=TrainConfig(
            epochs=epochs, batch_size=BATCH_SIZE, lr=1e-3, validation_fraction=0.0, patience=0
        ),
        data=DataConfig(batch_key=batch_key),
    )


#: The conditional VAE's de-confounding settings, chosen on the training cells alone by the
#: label-free rule of ``singlecell_select.py`` (RESULTS.md, issue #4, run 8): whether the
#: encoder reads the batch (scVI's encoder does not) and the MMD penalty λ between platforms.
ENCODE_COVARIATES, MMD_BATCH = False, 1000.0


def conditional_config(
    epochs: int, seed: int = 0, encode: bool = ENCODE_COVARIATES, mmd: float = MMD_BATCH
) -> FitConfig:
    """The benchmark's conditional VAE: :func:`nb_config` conditioned on the platform, with
    :data:`ENCODE_COVARIATES` and :data:`MMD_BATCH` (or the given candidate settings)."""
    cfg = nb_config(epochs, "batch", epochs)
    net = dataclasses.replace(cfg.model.network, encode_covariates=encode)
    return dataclasses.replace(
        cfg,
        model=dataclasses.replace(cfg.model, network=net),
        objective=dataclasses.replace(cfg.objective, mmd_batch=mmd),
        train=dataclasses.replace(cfg.train, seed=seed),
    )


def compiled(cfg: FitConfig, mode: str) -> FitConfig:
    """``cfg`` with ``train.compile = mode`` (the NB kernels fused by torch.compile or not)."""
    return dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, compile=mode))


# -- biovae side -------------------------------------------------------------------------------
def fit_biovae(train: Dataset, cfg: FitConfig) -> tuple[VAE, float]:
    t0 = time.perf_counter()
    est = VAE(config=cfg).fit(train)
    secs = time.perf_counter() - t0
    print(f"  biovae fit {secs:.1f} s (load {load_average()})", file=sys.stderr, flush=True)
    return est, secs


@torch.no_grad()
def held_out(est: VAE, ds: Dataset, samples: int = ELBO_SAMPLES, seed: int = 0) -> dict:
    """Mean per-cell ELBO, reconstruction NLL and KL over ``samples`` draws of z (eval mode)."""
    rec = kl = 0.0
    with seeded(seed):
        for b in est.batches(ds):
            for _ in range(samples):
                out = elbo(est.model_, b, beta=1.0)
                rec += float(out.recon_n.double().sum()) / samples
                kl += float(out.kl_n.double().sum()) / samples
    n = len(ds)
    return {"recon_nll": rec / n, "kl": kl / n, "elbo": -(rec + kl) / n}


def lognorm_pca(ds: Dataset, k: int = N_LATENT) -> np.ndarray:
    """scanpy-style baseline: counts per median library, log1p, centred, top-k PCs."""
    x = ds.x.toarray() if sp.issparse(ds.x) else np.asarray(ds.x)
    lib = x.sum(1, keepdims=True)
    y = np.log1p(x / np.maximum(lib, 1) * np.median(lib))
    y -= y.mean(0)
    u, s, _ = np.linalg.svd(y, full_matrices=False)
    return u[:, :k] * s[:k]


# -- the parts ---------------------------------------------------------------------------------
def cellbench_part(args, python: Path | None, work: Path) -> dict:
    ds, _ = cellbench(args.quick)
    train, test = split(ds, 0.1, 0)
    epochs = 20 if args.quick else args.epochs
    batch, labels = ds.obs["batch"], ds.obs["cell_line"]
    result: dict = {"cells": len(ds), "genes": ds.n_features, "train": len(train)}
    result["epochs"], result["compile"] = epochs, args.compile
    emb = {"PCA (log-normalised)": lognorm_pca(ds)}
    fits = {}
    configs = (nb_config(epochs, None, epochs), compiled(conditional_config(epochs), args.compile))
    for name, cfg in zip(("biovae VAE", "biovae conditional VAE"), configs):
        est, secs = fit_biovae(train, cfg)
        fits[name] = est
        emb[name] = est.transform(ds)
        result[f"{name} held-out"] = held_out(est, test)
        result[f"{name} fit seconds"] = [secs]
        thetas = [v for k, v in est.model_.state_dict().items() if k.endswith("log_theta")]
        result[f"{name} largest log theta"] = max(float(t.max()) for t in thetas)
    paths: dict = {}
    if python is not None:
        paths = {
            p: write_h5ad(d, work / f"cellbench_{p}.h5ad", ("batch", "cell_line"))
            for p, d in (("train", train), ("test", test), ("all", ds))
        }
        settings = _scvi_settings(args, paths, epochs, "batch")
        rounds = []
        fresh = result["biovae conditional VAE fit seconds, fresh process"] = []
        cfg_dict = to_dict(compiled(conditional_config(epochs), args.compile))
        for r in range(args.rounds):
            order = ("scvi", "biovae") if r % 2 else ("biovae", "scvi")
            for who in order:
                if who == "scvi":
                    rounds.append(("scvi", run_scvi(python, settings, work), load_average()))
                else:
                    fresh.append(
                        run_biovae_fresh(cfg_dict, paths["train"], work, torch.get_num_threads())
                    )
        scvi_out = rounds[0][1]
        emb["scVI"] = np.asarray(scvi_out["latent"])
        result["scVI held-out"] = scvi_out["held_out"]
        result["scVI get_elbo"] = scvi_out["held_out_get_elbo"]
        result["scVI train seconds"] = [r[1]["train_seconds"] for r in rounds]
        result["scVI setup seconds"] = [r[1]["setup_seconds"] for r in rounds]
        result["scVI version"] = scvi_out["scvi_version"]
    result["metrics"] = {k: integration_metrics(v, batch, labels) for k, v in emb.items()}
    result["seeds"] = other_seeds(args, python, work, (train, test, ds), paths)
    return result


def other_seeds(args, python: Path | None, work: Path, data: tuple, paths: dict) -> dict:
    """Metrics and held-out ELBO of the conditional VAE (and scVI) for ``--seeds`` other than 0
    (fitted after the timing rounds; their fit times are not reported)."""
    train, test, ds = data
    batch, labels = ds.obs["batch"], ds.obs["cell_line"]
    epochs = 20 if args.quick else args.epochs
    out: dict = {"biovae conditional VAE": {}, "scVI": {}}
    for seed in (s for s in args.seeds if s != 0):
        est, _ = fit_biovae(train, conditional_config(epochs, seed))
        m = integration_metrics(est.transform(ds), batch, labels)
        out["biovae conditional VAE"][seed] = {**m, "elbo": held_out(est, test)["elbo"]}
        if python is not None:
            settings = {**_scvi_settings(args, paths, epochs, "batch"), "seed": seed}
            res = run_scvi(python, settings, work)
            m = integration_metrics(np.asarray(res["latent"]), batch, labels)
            out["scVI"][seed] = {**m, "elbo": res["held_out"]["elbo"]}
    return out


def ssl_part(args, python: Path | None, work: Path) -> dict:
    """Semi-supervised biovae vs scANVI with 5 % of the cells labelled (see _singlecell_ssl)."""
    ds, _ = cellbench(args.quick)
    epochs = 20 if args.quick else args.epochs
    truth = np.asarray(ds.obs["cell_line"]).astype(str)
    mask = ssl.labelled_mask(truth, ssl.LABEL_FRACTION, seed=0)
    ds = ssl.with_partial_labels(ds, "cell_line", mask)
    result: dict = {"cells": len(ds), "labelled": int(mask.sum()), "epochs": epochs}
    result.update({"fraction": ssl.LABEL_FRACTION, "seed": 0, "models": {}})
    est, secs = ssl.fit_ssvae(ds, ssl.ssvae_config(nb_config(epochs, "batch", epochs)))
    print(f"  biovae SSVAE fit {secs:.1f} s (load {load_average()})", file=sys.stderr, flush=True)
    result["models"]["biovae semi-supervised VAE"] = _ssl_scores(est.predict(ds), truth, mask, secs)
    if python is None:
        return result
    path = write_h5ad(ds, work / "cellbench_ssl.h5ad", ("batch", ssl.PARTIAL_KEY))
    settings = _scvi_settings(args, {"train": path}, epochs, "batch")
    settings["scanvi"] = {
        "labels_key": ssl.PARTIAL_KEY,
        "unlabeled_category": ssl.UNLABELLED,
        "epochs": [None, epochs],
    }
    out = run_scvi(python, settings, work)
    for run in out["scanvi"]:
        name = f"scANVI ({run['epochs_run']} epochs after scVI's {epochs})"
        secs = out["train_seconds"] + run["train_seconds"]
        result["models"][name] = _ssl_scores(run["predicted"], truth, mask, secs)
    return result


def _ssl_scores(predicted, truth, mask, seconds: float) -> dict:
    return {
        "accuracy": ssl.accuracy(predicted, truth, mask),
        "per_class": ssl.per_class_accuracy(predicted, truth, mask),
        "seconds": seconds,
        "load": load_average(),
    }


def _scvi_settings(args, paths: dict, epochs: int, batch_key: str | None) -> dict:
    return {
        "train": str(paths["train"]),
        "test": str(paths["test"]) if "test" in paths else None,
        "embed": str(paths["all"]) if "all" in paths else None,
        "batch_key": batch_key,
        "n_latent": N_LATENT,
        "n_hidden": N_HIDDEN,
        "epochs": epochs,
        "batch_size": BATCH_SIZE,
        "threads": torch.get_num_threads(),
        "seed": 0,
        "elbo_samples": ELBO_SAMPLES,
    }


def timing_part(args, python: Path | None, work: Path) -> dict:
    n, g = (2000, 500) if args.quick else (20000, 2000)
    epochs = 1 if args.quick else 3
    ds = synthetic_nb(n, g)
    result = {"cells": n, "genes": g, "epochs": epochs, "compile": args.compile}
    result["fresh"] = python is not None  # biovae timed in fresh processes (beside scVI)
    result.update({"biovae": [], "scVI": [], "load": []})
    paths = {"train": write_h5ad(ds, work / "synthetic.h5ad", ("batch",))} if python else {}
    cfg = compiled(conditional_config(epochs), args.compile)
    for r in range(args.rounds):
        order = ("scvi", "biovae") if r % 2 else ("biovae", "scvi")
        for who in order:
            result["load"].append(load_average())
            if who == "biovae" and python is not None:  # timed in a fresh process, as scVI
                result["biovae"].append(
                    run_biovae_fresh(to_dict(cfg), paths["train"], work, torch.get_num_threads())
                )
            elif who == "biovae":
                result["biovae"].append(fit_biovae(ds, cfg)[1])
            elif python is not None:
                out = run_scvi(python, _scvi_settings(args, paths, epochs, "batch"), work)
                result["scVI"].append(out["train_seconds"])
    return result


#: Seeds of the embryo VAE: its pseudotime correlation varies by ±0.05 between seeds.
EMBRYO_SEEDS = (0, 1, 2, 3, 4)


def embryo_part(args, out: Path) -> dict:
    """Pseudotime vs stage for VAEs of five seeds (reported each, mean and min) and PCA."""
    ds = read_dataset(data_dir() / EMBRYO)
    stage = np.asarray(ds.obs["num_cells"], dtype=np.float64)
    root_group = stage == stage.min()
    embs = {
        f"biovae VAE seed {s}": VAE(config=embryo_config(args.quick, s)).fit(ds).transform(ds)
        for s in EMBRYO_SEEDS
    }
    embs["PCA"] = PCA(n_latent=N_LATENT, likelihood="gaussian").fit(ds).transform(ds)
    result, parts = {}, []
    for name, z in embs.items():
        traj = pseudotime(z, root_group=root_group)
        result[name] = stage_spearman(traj.pseudotime, stage)
        if name in ("biovae VAE seed 0", "PCA"):
            title = f"Trajectory: {name}"
            parts.append(
                trajectory_section(z, traj, stage, "num_cells", title, f"traj-{len(parts)}")
            )
    vae = [result[f"biovae VAE seed {s}"] for s in EMBRYO_SEEDS]
    result["biovae VAE mean"], result["biovae VAE min"] = float(np.mean(vae)), float(min(vae))
    write_trajectory_report(out / "embryo_trajectory.html", parts, "Guo 2010 embryo time course")
    return result


def embryo_config(quick: bool, seed: int) -> FitConfig:
    return FitConfig(
        model=ModelConfig(
            n_latent=N_LATENT,
            likelihood=LikelihoodConfig("gaussian"),
            network=NetworkConfig(hidden=(N_HIDDEN,)),
        ),
        train=TrainConfig(epochs=30 if quick else 300, batch_size=64, seed=seed),
    )


def pbmc_part(args, out: Path) -> dict:
    ds = read_dataset(data_dir() / PBMC)
    cfg = nb_config(30 if args.quick else 200, None, 20)
    est = VAE(config=cfg).fit(ds)
    write_report(est, out / "pbmc68k_report.html", ds, color_by=["bulk_labels"])
    return {"cells": len(ds), "report": str(out / "pbmc68k_report.html")}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few epochs, small data (smoke)")
    parser.add_argument("--out", default="bench-output/singlecell")
    parser.add_argument("--scvi-env", default="bench-output/scvi-env")
    parser.add_argument("--no-scvi", action="store_true", help="skip scVI (no environment)")
    parser.add_argument("--rounds", type=int, default=2, help="interleaved timing rounds")
    parser.add_argument("--only", choices=("cellbench", "ssl", "timing", "embryo", "pbmc"))
    parser.add_argument("--threads", type=int, help="torch threads for both tools")
    parser.add_argument("--epochs", type=int, default=400, help="CellBench epochs (both tools)")
    parser.add_argument(
        "--compile",
        choices=("auto", "on", "off"),
        default="auto",
        help="biovae's train.compile for the conditional VAE and the timing fits (default auto)",
    )
    parser.add_argument(
        "--seeds",
        type=lambda t: [int(v) for v in t.split(",")],
        default=[0],
        help="CellBench: also fit the conditional VAE and scVI with these seeds (e.g. 0,1,2)",
    )
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    info = machine_info()
    python = None if args.no_scvi else scvi_python(REPO / args.scvi_env)
    results: dict = {"machine": info, "command": " ".join(sys.argv)}
    parts = {
        "cellbench": lambda w: cellbench_part(args, python, w),
        "ssl": lambda w: ssl_part(args, python, w),
        "timing": lambda w: timing_part(args, python, w),
        "embryo": lambda w: embryo_part(args, out),
        "pbmc": lambda w: pbmc_part(args, out),
    }
    needs = {"cellbench": CELLBENCH, "ssl": CELLBENCH, "embryo": EMBRYO, "pbmc": PBMC}
    for name, part in parts.items():
        if args.only and args.only != name:
            continue
        if name in needs and not (data_dir() / needs[name]).exists():
            print(f"skipping {name}: {data_dir() / needs[name]} not found (BIOVAE_DATA_DIR)")
            continue
        with tempfile.TemporaryDirectory(dir=out) as work:
            t0 = time.perf_counter()
            results[name] = part(Path(work))
            results[name]["seconds"] = time.perf_counter() - t0
        print(f"{name} done in {results[name]['seconds']:.0f} s", file=sys.stderr, flush=True)
    results["machine"]["load_average_end"] = load_average()
    write_json_atomic(out / "singlecell.json", results)
    print(markdown(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
