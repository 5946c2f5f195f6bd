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


def expression(
    adata: Any,
    est: VAE,
    *,
    key_added: str = "biovae_denoised",
    reference_batch: str | None = None,
    library_size: float = 1e4,
) -> None:
    """Write denoised expression (counts per ``library_size``) to ``adata.layers[key_added]``.

    With ``reference_batch`` every cell is decoded as if from that level of the model's batch
    covariate (the one given to :func:`vae` as ``batch_key``): batch-corrected expression.
    """
    from biovae.applications.expression import expression as decode_expression

    batch_key = est.schema_.covariates.categorical[0] if reference_batch is not None else None
    adata.layers[key_added] = decode_expression(
        est,
        adata,
        layer=est.config_.data.layer,
        library_size=library_size,
        batch_key=batch_key,
        reference=reference_batch,
    )


def pseudotime(
    adata: Any,
    *,
    use_rep: str = "X_biovae",
    root_key: str | None = None,
    root_value: str | None = None,
    key_added: str = "biovae_pseudotime",
) -> None:
    """Diffusion pseudotime along ``adata.obsm[use_rep]`` into ``adata.obs[key_added]``.

    The root is the extreme cell of the group ``obs[root_key] == root_value`` (or, without a
    root, of the first diffusion component); see :mod:`biovae.applications.trajectory`.
    """
    from biovae.applications import trajectory
    from biovae.inputs import obs_columns

    group = None
    if root_key is not None:
        obs = obs_columns(adata.obs, adata.n_obs)
        group = trajectory.root_mask(obs, root_key, str(root_value))
    traj = trajectory.pseudotime(adata.obsm[use_rep], root_group=group)
    adata.obs[key_added] = traj.pseudotime
    adata.uns[key_added] = {"root": str(adata.obs_names[traj.root]), "use_rep": use_rep}
