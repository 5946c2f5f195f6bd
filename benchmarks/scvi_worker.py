"""Train scVI on an .h5ad and write latent means, timings and held-out ELBO as JSON.

Run with the python of the separate scvi-tools environment that ``benchmarks/singlecell.py``
creates (``bench-output/scvi-env``); it imports nothing from biovae.

    scvi-env/bin/python benchmarks/scvi_worker.py SETTINGS.json OUT.json

SETTINGS.json: ``train`` (h5ad path), ``test`` (h5ad path or null), ``embed`` (h5ad whose
latent means to return, or null), ``batch_key`` (or null), ``n_latent``, ``n_hidden``,
``epochs``, ``batch_size``, ``threads``, ``seed``, ``elbo_samples``; optionally ``accelerator``
(lightning's, default ``cpu``; ``gpu`` on a lent accelerator) and ``scanvi``:
``{"labels_key", "unlabeled_category", "epochs": [E or null, ...]}`` to train scANVI from the
trained scVI (``SCANVI.from_scvi_model``, as scvi-tools recommends) once per entry of
``epochs`` (null = scvi-tools' default for a pretrained model) and return its predictions on
the training cells; and ``de``: ``[{"groupby", "group1", "group2", "batch_correction"}, ...]``
(optionally ``"mode"``: "change", the default here, or "vanilla") to run scVI's
``differential_expression`` (its defaults otherwise) on the training cells;
``arches`` (scArches' architecture: layer norm, no batch norm, covariates encoded, dropout
0.2), ``n_layers``, and ``query``: ``{"path", "epochs"}`` (optionally ``"scanvi":
{"labels_key", "unlabeled_category"}``) to map a query onto the trained model (scArches) and
return the latent of the reference and query cells (and scANVI's predictions for the query).
``linear``: true trains scvi-tools' LDVAE (``LinearSCVI``, its defaults otherwise) instead of
scVI and returns its ``get_loadings()`` (genes × factors) as ``loadings``.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time


def held_out(model, adata, samples: int) -> dict:
    """Mean per-cell ELBO, reconstruction NLL and KL on ``adata`` (z sampled, dropout off).

    Computed from the module's own loss terms with KL weight 1: ELBO = −(recon + KL_z + KL_l);
    averaged over ``samples`` draws of z per cell, then over cells.
    """
    import torch

    module = model.module
    module.eval()
    adata = model._validate_anndata(adata)  # registers the held-out cells with the model's setup
    loader = model._make_data_loader(adata=adata, batch_size=1024, shuffle=False)
    recon_sum = kl_sum = 0.0
    n = 0
    with torch.no_grad():
        for tensors in loader:
            rec = kl = 0.0
            for _ in range(samples):
                _, _, losses = module(tensors, loss_kwargs={"kl_weight": 1.0})
                rec = rec + _total(losses.reconstruction_loss)
                kl = kl + _total(losses.kl_local)
            recon_sum += float(rec.sum()) / samples
            kl_sum += float(kl.sum()) / samples
            n += int(rec.shape[0])
    return {"recon_nll": recon_sum / n, "kl": kl_sum / n, "elbo": -(recon_sum + kl_sum) / n}


def _total(terms):
    """Per-cell sum of a loss dict (or tensor) of scvi-tools' LossOutput."""
    if isinstance(terms, dict):
        return sum(terms.values())
    return terms


def scanvi_runs(model, adata, settings: dict) -> list[dict]:
    """scANVI from the trained scVI, once per requested epoch count; predictions on ``adata``."""
    import scvi

    spec, runs = settings["scanvi"], []
    for epochs in spec["epochs"]:
        scvi.settings.seed = int(settings["seed"])
        scanvi = scvi.model.SCANVI.from_scvi_model(
            model, unlabeled_category=spec["unlabeled_category"], labels_key=spec["labels_key"]
        )
        t0 = time.perf_counter()
        scanvi.train(
            max_epochs=epochs,
            batch_size=settings["batch_size"],
            train_size=1.0,
            accelerator=settings.get("accelerator", "cpu"),
            enable_progress_bar=False,
        )
        seconds = time.perf_counter() - t0
        runs.append(
            {
                "epochs": epochs,
                "epochs_run": _epochs_run(scanvi),
                "train_seconds": seconds,
                "predicted": [str(v) for v in scanvi.predict(adata)],
            }
        )
    return runs


def query_run(model, reference, settings: dict) -> dict:
    """scArches: the query mapped onto the trained reference (``load_query_data``, training of
    the new weights with weight decay off, as scvi-tools' tutorial); latent of reference then
    query cells from the mapped model."""
    import anndata
    import scvi

    spec = settings["query"]
    query = anndata.read_h5ad(spec["path"])
    mapped, seconds = _map(scvi.model.SCVI, query, model, spec["epochs"], settings)
    both = anndata.concat([reference, query])
    out = {"seconds": seconds, "latent": mapped.get_latent_representation(both).tolist()}
    if spec.get("scanvi"):
        out["scanvi"] = scanvi_query(model, reference, spec, settings)
    return out


def _map(kind, query, reference_model, epochs: int, settings: dict):
    """``kind.load_query_data`` of ``query`` onto ``reference_model``, trained for ``epochs``
    with weight decay off; returns the mapped model and the training seconds."""
    kind.prepare_query_anndata(query, reference_model)
    mapped = kind.load_query_data(query, reference_model)
    t0 = time.perf_counter()
    mapped.train(
        max_epochs=epochs,
        train_size=1.0,
        plan_kwargs={"weight_decay": 0.0},
        accelerator=settings.get("accelerator", "cpu"),
        enable_progress_bar=False,
    )
    return mapped, time.perf_counter() - t0


def scanvi_query(model, reference, spec: dict, settings: dict) -> dict:
    """scANVI from the reference scVI (every reference cell labelled, scvi-tools' default
    epochs), then the unlabelled query mapped onto it (scArches) and its labels predicted."""
    import anndata
    import scvi

    labels, unknown = spec["scanvi"]["labels_key"], spec["scanvi"]["unlabeled_category"]
    ref_model = scvi.model.SCANVI.from_scvi_model(
        model, unlabeled_category=unknown, labels_key=labels
    )
    ref_model.train(
        train_size=1.0,
        accelerator=settings.get("accelerator", "cpu"),
        enable_progress_bar=False,
    )
    query = anndata.read_h5ad(spec["path"])
    query.obs[labels] = unknown  # the query is unlabelled
    mapped, seconds = _map(scvi.model.SCANVI, query, ref_model, spec["epochs"], settings)
    return {"seconds": seconds, "predicted": [str(v) for v in mapped.predict(query)]}


def de_run(model, adata, spec: dict) -> dict:
    """scVI's differential expression of ``spec``'s two groups in ``spec["mode"]`` (change
    by default), its defaults otherwise (δ = 0.25, FDR target 0.05). Vanilla mode has no
    ``proba_de`` or calls: the probability of the more probable sign, max(proba_m1,
    proba_m2), and |bayes_factor| ≥ 3 (the threshold of Lopez et al. 2018) stand for them."""
    mode = spec.get("mode", "change")
    t0 = time.perf_counter()
    table = model.differential_expression(
        adata,
        groupby=spec["groupby"],
        group1=spec["group1"],
        group2=spec["group2"],
        batch_correction=spec["batch_correction"],
        mode=mode,  # change: the mode scvi-tools' DE tutorial uses (its default is "vanilla")
    )
    seconds = time.perf_counter() - t0
    if mode == "vanilla":
        proba = table[["proba_m1", "proba_m2"]].max(axis=1).astype(float)
        called = table["bayes_factor"].abs() >= 3.0
    else:
        proba = table["proba_de"].astype(float)
        called = table[next(c for c in table.columns if c.startswith("is_de_fdr"))]
    out = {
        **spec,
        "seconds": seconds,
        "genes": [str(g) for g in table.index],
        "proba_de": proba.tolist(),
        "called": called.astype(bool).tolist(),
    }
    if "lfc_mean" in table:
        out["lfc_mean"] = table["lfc_mean"].astype(float).tolist()
    return out


def _epochs_run(model) -> int | None:
    history = model.history or {}
    key = next((k for k in ("train_loss_epoch", "elbo_train") if k in history), None)
    return int(history[key].shape[0]) if key else None


def main(settings_path: str, out_path: str) -> None:
    with open(settings_path) as fh:
        settings = json.load(fh)
    import anndata
    import numpy as np
    import scvi
    import torch

    torch.set_num_threads(int(settings["threads"]))
    scvi.settings.seed = int(settings["seed"])
    train = anndata.read_h5ad(settings["train"])
    t0 = time.perf_counter()
    cls = scvi.model.LinearSCVI if settings.get("linear") else scvi.model.SCVI
    cls.setup_anndata(train, batch_key=settings["batch_key"])
    # scArches' recommended architecture for reference mapping (scvi-tools' tutorial)
    arches = {"use_layer_norm": "both", "use_batch_norm": "none", "encode_covariates": True}
    model = cls(
        train,
        n_latent=settings["n_latent"],
        n_hidden=settings["n_hidden"],
        n_layers=settings.get("n_layers", 1),
        gene_likelihood="nb",
        **({**arches, "dropout_rate": 0.2} if settings.get("arches") else {}),
    )
    t1 = time.perf_counter()
    model.train(
        max_epochs=settings["epochs"],
        batch_size=settings["batch_size"],
        train_size=1.0,
        early_stopping=False,
        accelerator=settings.get("accelerator", "cpu"),
        enable_progress_bar=False,
        plan_kwargs={"n_epochs_kl_warmup": settings["epochs"]},
    )
    t2 = time.perf_counter()
    out = {
        "scvi_version": scvi.__version__,
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "setup_seconds": t1 - t0,
        "train_seconds": t2 - t1,
        "epochs_run": int(model.history["elbo_train"].shape[0]) if model.history else None,
    }
    if settings.get("test"):
        test = anndata.read_h5ad(settings["test"])
        torch.manual_seed(int(settings["seed"]))
        out["held_out"] = held_out(model, test, int(settings["elbo_samples"]))
        out["held_out_get_elbo"] = float(model.get_elbo(test))
    if settings.get("scanvi"):
        out["scanvi"] = scanvi_runs(model, train, settings)
    if settings.get("query"):
        out["query"] = query_run(model, train, settings)
    if settings.get("de"):
        out["de"] = [de_run(model, train, spec) for spec in settings["de"]]
    if settings.get("linear"):
        out["loadings"] = np.asarray(model.get_loadings()).tolist()
    if settings.get("embed"):
        emb = anndata.read_h5ad(settings["embed"])
        out["latent"] = np.asarray(model.get_latent_representation(emb)).tolist()
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(out_path)))
    with os.fdopen(fd, "w") as fh:
        json.dump(out, fh)
    os.replace(tmp, out_path)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
