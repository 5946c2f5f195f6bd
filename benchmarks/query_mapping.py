"""Reference mapping on CellBench: one platform is the reference, the other the query.

    python benchmarks/query_mapping.py [--out bench-output/query-mapping]

CellBench (three lung-cancer cell lines on two platforms; the 2,000 genes with most counts):
each platform in turn is the reference, the other the query. Compared, every method with
scArches' recommended architecture (scvi-tools' tutorial: 10 latent dimensions, two hidden
layers of 128, layer norm, no batch norm, covariates encoded, dropout 0.2), conditioned on the
platform, reference 400 epochs (KL warm-up over all of them), query 200 epochs:

* biovae, mapped: ``biovae.query.map_query`` of the query onto the reference model;
* biovae, unmapped: the reference model embedding the query as if it were the reference's
  platform (what mapping is for);
* scVI, scArches: ``SCVI.load_query_data`` and ``train`` (weight decay off), in scvi-tools'
  environment (``_scvi.py``);
* biovae, joint: one conditional VAE fitted on both platforms (what mapping approximates).

Label transfer by a classifier (``--ssl``): biovae's semi-supervised VAE fitted on the
reference with every cell's cell line (400 epochs, same architecture) and mapped onto the
unlabelled query, against scANVI trained from the reference scVI (scvi-tools' default epochs)
and mapped with ``SCANVI.load_query_data`` (200 epochs, weight decay off); reported: accuracy
of each model's predicted cell line on the query.

Reported per direction: accuracy of the query's cell line predicted by 15-nearest-neighbour
vote of the reference cells in the joint embedding (label transfer), and the integration
metrics of the joint embedding (platform as batch, cell line as label); seconds of the query
step (the joint row: its whole fit). Prints Markdown for RESULTS.md and writes ``results.json``.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import load_average, machine_info, write_json_atomic
from _scvi import output_and_scvi, run_scvi, write_h5ad
from biovae.config import FitConfig, NetworkConfig
from biovae.data.dataset import Dataset
from biovae.diagnostics.integration import integration_metrics
from biovae.estimator import VAE
from biovae.query import map_query
from diagnostics import cellbench
from singlecell import N_HIDDEN, N_LATENT, nb_config

REF_EPOCHS, QUERY_EPOCHS, K = 400, 200, 15


def arches_config(epochs: int) -> FitConfig:
    cfg = nb_config(epochs, "batch", epochs)
    net = NetworkConfig(hidden=(N_HIDDEN, N_HIDDEN), dropout=0.2, norm="layer")
    return dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, network=net))


def label_transfer(z_ref: np.ndarray, y_ref: np.ndarray, z_q: np.ndarray, y_q: np.ndarray):
    from sklearn.neighbors import KNeighborsClassifier

    knn = KNeighborsClassifier(K).fit(z_ref, y_ref)
    return float((knn.predict(z_q) == y_q).mean())


def scores(z: np.ndarray, ds: Dataset, ref: np.ndarray, seconds: float) -> dict:
    batch, labels = ds.obs["batch"], ds.obs["cell_line"]
    out = {"label_transfer": label_transfer(z[ref], labels[ref], z[~ref], labels[~ref])}
    out.update(integration_metrics(z, batch, labels))
    return {**out, "seconds": seconds}


def one_direction(
    ds: Dataset, ref_level: str, python: Path | None, work: Path, epochs: tuple[int, int]
) -> dict:
    ref = ds.obs["batch"] == ref_level
    reference, query = ds.subset(np.flatnonzero(ref)), ds.subset(np.flatnonzero(~ref))
    order = np.r_[np.flatnonzero(ref), np.flatnonzero(~ref)]  # reference cells first
    joint_ds = ds.subset(order)
    is_ref = np.r_[np.ones(ref.sum(), bool), np.zeros((~ref).sum(), bool)]
    out = {"reference": ref_level, "n_reference": int(ref.sum()), "n_query": int((~ref).sum())}
    est = VAE(config=arches_config(epochs[0])).fit(reference)
    t0 = time.perf_counter()
    mapped = map_query(est, query, epochs=epochs[1])
    secs = time.perf_counter() - t0
    out["biovae, mapped"] = scores(mapped.transform(joint_ds), joint_ds, is_ref, secs)
    as_ref = Dataset(
        query.x,
        query.ids,
        query.features,
        {**query.obs, "batch": np.full(len(query), ref_level, dtype=object)},
    )
    z = np.vstack([est.transform(reference), est.transform(as_ref)])
    out["biovae, unmapped"] = scores(z, joint_ds, is_ref, 0.0)
    if python is not None:
        res = run_scvi(python, _scvi_settings(reference, query, work, epochs), work)["query"]
        out["scVI, scArches"] = scores(np.asarray(res["latent"]), joint_ds, is_ref, res["seconds"])
    t0 = time.perf_counter()
    joint = VAE(config=arches_config(epochs[0])).fit(joint_ds)
    out["biovae, joint"] = scores(
        joint.transform(joint_ds), joint_ds, is_ref, time.perf_counter() - t0
    )
    return out


def _scvi_settings(reference: Dataset, query: Dataset, work: Path, epochs) -> dict:
    return {
        "train": str(write_h5ad(reference, work / "ref.h5ad", ("batch", "cell_line"))),
        "test": None,
        "embed": None,
        "batch_key": "batch",
        "n_latent": N_LATENT,
        "n_hidden": N_HIDDEN,
        "n_layers": 2,
        "arches": True,
        "epochs": epochs[0],
        "batch_size": 128,
        "threads": torch.get_num_threads(),
        "seed": 0,
        "elbo_samples": 1,
        "query": {
            "path": str(write_h5ad(query, work / "q.h5ad", ("batch", "cell_line"))),
            "epochs": epochs[1],
        },
    }


def ssl_direction(
    ds: Dataset, ref_level: str, python: Path | None, work: Path, epochs: tuple[int, int]
) -> dict:
    """Accuracy of the query's predicted cell line: biovae's semi-supervised VAE mapped, and
    scANVI mapped (module docstring)."""
    from biovae.ssvae_estimator import SemiSupervisedVAE

    ref = ds.obs["batch"] == ref_level
    reference, query = ds.subset(np.flatnonzero(ref)), ds.subset(np.flatnonzero(~ref))
    truth = query.obs["cell_line"]
    out = {"reference": ref_level, "n_reference": int(ref.sum()), "n_query": int((~ref).sum())}
    cfg = arches_config(epochs[0])
    est = SemiSupervisedVAE(labels_key="cell_line", config=cfg).fit(reference)
    unlabelled = Dataset(query.x, query.ids, query.features, {"batch": query.obs["batch"]})
    t0 = time.perf_counter()
    mapped = map_query(est, unlabelled, epochs=epochs[1])
    secs = time.perf_counter() - t0
    acc = float((mapped.predict(unlabelled) == truth).mean())
    out["biovae SSVAE, mapped"] = {"accuracy": acc, "seconds": secs}
    if python is not None:
        settings = _scvi_settings(reference, query, work, epochs)
        settings["query"]["scanvi"] = {"labels_key": "cell_line", "unlabeled_category": "Unknown"}
        res = run_scvi(python, settings, work)["query"]["scanvi"]
        acc = float((np.asarray(res["predicted"], dtype=object) == truth).mean())
        out["scANVI, scArches"] = {"accuracy": acc, "seconds": res["seconds"]}
    return out


METRICS = (
    "label_transfer",
    "batch_asw",
    "ilisi_scaled",
    "kbet_acceptance",
    "label_asw",
    "clisi_scaled",
    "ari",
    "nmi",
    "seconds",
)


def markdown(results: list[dict]) -> str:
    head = "| reference → query | method | " + " | ".join(METRICS) + " |"
    lines = [head, "|" + "---|" * (len(METRICS) + 2)]
    for r in results:
        for name, m in r.items():
            if isinstance(m, dict):
                cells = " | ".join(f"{m.get(k, float('nan')):.3f}" for k in METRICS)
                lines.append(
                    f"| {r['reference']} ({r['n_reference']}) → query "
                    f"({r['n_query']}) | {name} | {cells} |"
                )
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--no-scvi", action="store_true")
    p.add_argument("--quick", action="store_true", help="5 + 3 epochs: a plumbing check only")
    p.add_argument("--ssl", action="store_true", help="only the label transfer by classifiers")
    p.add_argument("--scvi-env", default="bench-output/scvi-env")
    p.add_argument("--out", default="bench-output/query-mapping")
    args = p.parse_args()
    out, python = output_and_scvi(args.out, args)
    ds, _ = cellbench(quick=False)
    epochs = (5, 3) if args.quick else (REF_EPOCHS, QUERY_EPOCHS)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for level in sorted(set(ds.obs["batch"])):
            if args.ssl:
                results.append(ssl_direction(ds, level, python, Path(tmp), epochs))
                print(results[-1], file=sys.stderr, flush=True)
                continue
            results.append(one_direction(ds, level, python, Path(tmp), epochs))
            print(markdown(results[-1:]), file=sys.stderr, flush=True)
    write_json_atomic(
        out / "results.json",
        {"machine": machine_info(), "results": results, "load_end": load_average()},
    )
    print(ssl_markdown(results) if args.ssl else markdown(results))


def ssl_markdown(results: list[dict]) -> str:
    lines = [
        "| reference → query | method | accuracy on the query | seconds |",
        "|---|---|---|---|",
    ]
    for r in results:
        for name, m in r.items():
            if isinstance(m, dict):
                lines.append(
                    f"| {r['reference']} ({r['n_reference']}) → query ({r['n_query']}) "
                    f"| {name} | {m['accuracy']:.3f} | {m['seconds']:.1f} |"
                )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
