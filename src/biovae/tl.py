"""AnnData tools in the scanpy style: ``biovae.tl.vae(adata, ...)``."""

from __future__ import annotations

import dataclasses
from typing import Any

from biovae.config import FitConfig
from biovae.estimator import VAE


def vae(
    adata: Any,
    *,
    likelihood: str = "nb",
    n_latent: int = 10,
    layer: str | None = None,
    batch_key: str | None = None,
    key_added: str = "X_biovae",
    seed: int = 0,
    config: FitConfig | None = None,
) -> VAE:
    """Fit a VAE on ``adata`` and write posterior means to ``adata.obsm[key_added]``.

    Counts are read from ``adata.layers[layer]`` (or ``X``); ``batch_key`` names an ``obs``
    column to condition on. Settings go to ``adata.uns[key_added]``. Returns the estimator.
    """
    cfg = config or FitConfig()
    data = dataclasses.replace(
        cfg.data,
        layer=layer,
        categorical_covariates=(batch_key,) if batch_key else cfg.data.categorical_covariates,
    )
    cfg = dataclasses.replace(cfg, data=data)
    est = VAE(likelihood=likelihood, n_latent=n_latent, seed=seed, config=cfg).fit(adata)
    adata.obsm[key_added] = est.transform(adata)
    last = est.history_[-1] if est.history_ else {}
    adata.uns[key_added] = {
        "likelihood": likelihood,
        "n_latent": n_latent,
        "layer": layer or "X",
        "batch_key": batch_key or "",
        "epochs": int(last.get("epoch", 0)),
        "elbo": float(last.get("elbo", float("nan"))),
        "fingerprint": est.fingerprint_,
    }
    return est
