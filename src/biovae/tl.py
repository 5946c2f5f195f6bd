"""AnnData tools in the scanpy style: ``biovae.tl.vae(adata, ...)``."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from biovae.config import FitConfig, LikelihoodConfig, given_config
from biovae.data.dataset import names_already_warned
from biovae.errors import ConfigError, DataError
from biovae.estimator import VAE
from biovae.ssvae_estimator import SemiSupervisedVAE
from biovae.tl_checks import (
    check_name,
    check_target,
    make_own,
    probability_column,
    probability_columns,
)


def vae(
    adata: Any,
    *,
    likelihood: str | None = None,
    n_latent: int | None = None,
    layer: str | None = None,
    batch_key: str | None = None,
    labels_key: str | None = None,
    unlabeled_category: str | float | None = None,
    key_added: str = "X_biovae",
    seed: int | None = None,
    epochs: int | None = None,
    config: FitConfig | None = None,
) -> VAE | SemiSupervisedVAE:
    """Fit a VAE on ``adata`` and write posterior means to ``adata.obsm[key_added]``.

    Counts are read from ``adata.layers[layer]`` (or ``X``); ``batch_key`` names an ``obs``
    column to condition on (and the batch of per-batch dispersion). With ``labels_key`` the
    model is the semi-supervised VAE: cells whose label is missing, "unknown" or
    ``unlabeled_category`` are unlabelled (without ``unlabeled_category``, also −1 in an int or
    float column or a categorical of numbers; a text column's "-1", or a categorical of text's,
    is a label; a float column of non-integer numbers, a measurement, is refused unless it is
    categorical), and every cell's predicted
    label goes to ``obs[key_added + "_label"]``, its probability to
    ``obs[key_added + "_label_probability"]`` and q(y|x) of each level L to
    ``obs[key_added + "_p_" + L]`` (``/`` in L as ``_``).
    Settings go to ``adata.uns[key_added]``. With a linear decoder (``config.model.network.decoder =
    "linear"``, LDVAE) the genes × factors loadings go to ``adata.varm[key_added +
    "_loadings"]``. Returns the estimator.

    Arguments left at ``None`` take their value from ``config`` (without one: 10 latent
    dimensions, seed 0, 200 epochs, counts in ``X``); arguments given win over it
    (``epochs`` as ``biovae.VAE(epochs=)`` and scvi-tools' ``train(max_epochs=)``). The
    likelihood is NB unless ``likelihood`` or ``config.model.likelihood`` names another (a
    config's likelihood left at its default, Gaussian, counts as not naming one: pass
    ``likelihood="gaussian"``); the returned estimator's ``config`` names the one fitted.
    """
    check_target(adata, key_added)
    config = _with_likelihood(given_config(config), likelihood)
    given = dict(
        layer=layer,
        batch_key=batch_key,
        labels_key=labels_key,
        unlabeled_category=unlabeled_category,
    )
    data = dataclasses.replace(config.data, **{k: v for k, v in given.items() if v is not None})
    cfg = dataclasses.replace(config, data=data)
    est_cls = SemiSupervisedVAE if data.labels_key else VAE
    est = est_cls(likelihood=likelihood, n_latent=n_latent, epochs=epochs, seed=seed, config=cfg)
    est.fit(adata)
    make_own(adata)  # a view, once it is fitted: warned of at the user's line
    _write_results(adata, est, key_added)
    return est


def _with_likelihood(config: FitConfig, likelihood: str | None) -> FitConfig:
    """``config`` naming the likelihood :func:`vae` fits (``likelihood``, or NB for a config
    left at the default), so that the estimator's repr, get_params and clone show it."""
    if likelihood is None and config.model.likelihood == LikelihoodConfig():
        likelihood = "nb"
    if likelihood is None:
        return config
    named = dataclasses.replace(config.model.likelihood, name=likelihood)
    return dataclasses.replace(config, model=dataclasses.replace(config.model, likelihood=named))


def _write_results(adata: Any, est: VAE | SemiSupervisedVAE, key_added: str) -> None:
    """Posterior means, settings and (semi-supervised) label predictions under ``key_added``,
    replacing whatever an earlier fit or mapping wrote there. The fit just read ``adata``
    and warned of its repeated gene names; reading it again here does not warn twice."""
    labelled = isinstance(est, SemiSupervisedVAE)
    with names_already_warned():
        proba = est.predict_proba(adata) if labelled else None
        z = est.transform(adata)
    write_latent(adata, est, z, proba, key_added)


def write_latent(
    adata: Any,
    est: Any,
    z: np.ndarray,
    proba: np.ndarray | None = None,
    key_added: str = "X_biovae",
) -> None:
    """Write ``est``'s posterior means ``z`` of ``adata``'s cells (and, for a semi-supervised
    VAE, its label probabilities ``proba``) as :func:`vae` does: ``obsm[key_added]``, the
    settings in ``uns[key_added]``, the predictions in ``obs`` and a linear decoder's loadings
    in ``varm[key_added + "_loadings"]``; what an earlier fit wrote under ``key_added`` is
    replaced (``biovae embed --out *.h5ad`` and :func:`map_query` write through this)."""
    check_target(adata, key_added)
    columns = probability_columns(key_added, est.classes_) if proba is not None else []
    weights = None
    if est.config_.model.network.decoder == "linear":  # LDVAE: genes × factors, before writing
        from biovae.applications.loadings import loadings

        weights = loadings(est).to_numpy()
    make_own(adata)
    _clear(adata, key_added)  # an earlier fit's labels or loadings under the same key
    adata.obsm[key_added] = np.asarray(z)
    adata.uns[key_added] = _settings(est)
    if proba is not None:
        _write_predictions(adata, est, key_added, columns, proba)
    if weights is not None:
        adata.varm[f"{key_added}_loadings"] = weights


def _settings(est: VAE | SemiSupervisedVAE) -> dict[str, Any]:
    """What ``adata.uns[key_added]`` records of the fit (plain values: ``write_h5ad`` takes
    them); a mapped model adds its reference's fingerprint."""
    from biovae.training.history import kept_epoch

    last = est.history_[-1] if est.history_ else {}
    used = est.config_
    kept = kept_epoch(est.history_, used.objective.beta, used.train.early_stopping)
    settings = {
        "model": used.model.kind,  # vae, ae, pca or ssvae
        "likelihood": used.model.likelihood.name,
        "n_latent": used.model.n_latent,
        "seed": used.train.seed,
        "layer": used.data.layer or "X",
        "batch_key": used.data.batch_key or "",
        # every obs column z is conditioned on (the batch key first): lists h5ad can hold
        "categorical_covariates": list(est.schema_.covariates.categorical),
        "continuous_covariates": list(est.schema_.covariates.continuous),
        "labels_key": used.data.labels_key or "",
        "epochs": int(last.get("epoch", 0)),  # trained; the weights are those of kept_epoch
        "kept_epoch": int(kept or last.get("epoch", 0)),
        # the last epoch's training value per record; an autoencoder has no ELBO: its
        # history's "elbo" is log p(x | z = f(x))
        "elbo" if used.model.kind != "ae" else "log_px_z": float(last.get("elbo", float("nan"))),
        "fingerprint": est.fingerprint_,
    }
    if hasattr(est, "temperature_"):  # the scale of the label probabilities in obs
        settings["label_temperature"] = float(est.temperature_)
    mapping = getattr(est, "mapping_", None)
    if mapping and mapping.get("reference_fingerprint"):
        settings["reference_fingerprint"] = mapping["reference_fingerprint"]
    return settings


def _clear(adata: Any, key_added: str) -> None:
    """Drop what an earlier :func:`vae` wrote under ``key_added`` besides obsm/uns: label
    predictions in ``obs`` when its ``uns`` records label levels (the label, its probability
    and the probability columns of those levels, not every column that starts like one: a
    user's ``X_p_value``, or ``X_label`` beside no labelled fit, stays) and a linear decoder's
    loadings in ``varm``."""
    earlier = adata.uns.get(key_added)
    levels = earlier.get("label_levels") if isinstance(earlier, Mapping) else None
    ours: set[str] = set()
    if levels is not None:
        ours = {f"{key_added}_label", f"{key_added}_label_probability"}
        ours |= {probability_column(key_added, str(level)) for level in levels}
    stale = [c for c in adata.obs.columns if str(c) in ours]
    adata.obs.drop(columns=stale, inplace=True)
    adata.varm.pop(f"{key_added}_loadings", None)


def _write_predictions(
    adata: Any, est: SemiSupervisedVAE, key_added: str, columns: list[str], proba: np.ndarray
) -> None:
    """Predicted label, its probability and q(y|x) per level (``proba``, into ``columns``, one
    per level of ``classes_``) into ``adata.obs``."""
    import pandas as pd

    levels = list(est.classes_)
    best = proba.argmax(1)
    adata.obs[f"{key_added}_label"] = pd.Categorical(
        np.asarray(levels, dtype=object)[best], categories=levels
    )
    adata.obs[f"{key_added}_label_probability"] = proba[np.arange(len(best)), best]
    for j, column in enumerate(columns):
        adata.obs[column] = proba[:, j]
    adata.uns[key_added]["label_levels"] = levels


def expression(
    adata: Any,
    est: VAE,
    *,
    key_added: str = "biovae_denoised",
    reference_batch: str | None = None,
    library_size: float = 1e4,
    batch_key: str | None = None,
) -> None:
    """Write denoised expression (counts per ``library_size``) to ``adata.layers[key_added]``
    (float32, cells × genes) and its settings to ``adata.uns[key_added]``.

    With ``reference_batch`` every cell is decoded as if from that level of the model's batch
    covariate ``batch_key`` (default: its first categorical covariate, the one given to
    :func:`vae` as ``batch_key``): batch-corrected expression. ``biovae expression --out
    *.h5ad`` writes the same entries (:func:`write_expression`).
    """
    from biovae.applications.expression import check_model
    from biovae.applications.expression import expression as decode_expression

    check_target(adata, key_added)
    check_model(est)  # before est.schema_: an unfitted model raised AttributeError
    if batch_key is not None and reference_batch is None:
        raise ConfigError("batch_key names the covariate of reference_batch; give that too")
    if reference_batch is not None and batch_key is None:
        if not est.schema_.covariates.categorical:
            raise ConfigError(
                "reference_batch needs a model conditioned on a batch; fit it with batch_key"
            )
        batch_key = est.schema_.covariates.categorical[0]
    values = decode_expression(
        est,
        adata,
        layer=est.config_.data.layer,
        library_size=library_size,
        batch_key=batch_key,
        reference=reference_batch,
    )
    make_own(adata)
    write_expression(adata, est, values, key_added, (library_size, batch_key, reference_batch))


def write_expression(
    adata: Any,
    est: VAE,
    values: np.ndarray,
    key_added: str,
    settings: tuple[float, str | None, str | None],
) -> None:
    """The one layout of denoised expression in an AnnData, :func:`expression`'s and ``biovae
    expression``'s: ``values`` (cells × genes) as float32 in ``layers[key_added]`` and
    ``settings`` (library size, batch key, reference batch) in ``uns[key_added]`` with the
    counts' layer and the model's data fingerprint; X and other entries are left as they are."""
    library_size, batch_key, reference_batch = settings
    check_target(adata, key_added)
    make_own(adata)
    adata.layers[key_added] = np.asarray(values, dtype=np.float32)
    adata.uns[key_added] = {
        "library_size": float(library_size),
        "batch_key": batch_key or "",
        "reference_batch": "" if reference_batch is None else str(reference_batch),
        "layer": est.config_.data.layer or "X",
        "fingerprint": est.fingerprint_,
    }


def pseudotime(
    adata: Any,
    *,
    use_rep: str = "X_biovae",
    root_key: str | None = None,
    root_value: str | float | None = None,
    root: str | None = None,
    key_added: str = "biovae_pseudotime",
) -> None:
    """Diffusion pseudotime along ``adata.obsm[use_rep]`` into ``adata.obs[key_added]``.

    The root is the cell named ``root`` (an obs name), the extreme cell of the group
    ``obs[root_key] == root_value`` (levels as :mod:`biovae.levels` spells them: ``2``,
    ``2.0`` and ``"2"`` name the same level) or, without either, the extreme cell of the
    first diffusion component; see :mod:`biovae.applications.trajectory`.
    """
    from biovae.applications import trajectory
    from biovae.inputs import obs_columns

    check_target(adata, key_added)
    check_name(use_rep, "use_rep", "an obsm key, e.g. 'X_biovae'")
    if root_key is not None:
        check_name(root_key, "root_key", "an obs column, e.g. 'stage'")
    if (root_key is None) != (root_value is None) or (root is not None and root_key is not None):
        raise ConfigError(
            "give root_key and root_value together, or root (an obs name) alone, or none of them"
        )
    group = None
    if root_key is not None:
        obs = obs_columns(adata.obs, adata.n_obs, own_rows=True)
        group = trajectory.root_mask(obs, root_key, root_value)
    cell = None if root is None else trajectory.root_index(adata.obs_names, root)
    if use_rep not in adata.obsm:
        raise DataError(
            f"adata.obsm has no {use_rep!r} (keys: {', '.join(adata.obsm) or 'none'}); run "
            "biovae.tl.vae first or pass use_rep"
        )
    emb = adata.obsm[use_rep]
    traj = trajectory.pseudotime(emb, root=cell, root_group=group, ids=adata.obs_names)
    make_own(adata)
    adata.obs[key_added] = traj.pseudotime
    adata.uns[key_added] = {"root": str(adata.obs_names[traj.root]), "use_rep": use_rep}


def differential_expression(
    adata: Any,
    est: VAE | SemiSupervisedVAE,
    *,
    groupby: str,
    group1: str | Sequence[str] | None = None,
    group2: str | None = None,
    batch_correction: bool = False,
    mode: str = "change",
    delta: float = 0.25,
    fdr: float = 0.05,
    bayes_factor: float = 3.0,
    n_samples: int = 5000,
    seed: int = 0,
) -> Any:
    """Bayesian differential expression between groups of ``adata.obs[groupby]`` (a DataFrame).

    ``group1`` against ``group2`` (or all other cells with a level: cells whose level is
    missing are in neither group); with a list of levels as ``group1``
    each of them in turn, and without ``group1`` every level against the rest, the tables
    stacked with a ``comparison`` column (as scvi-tools). ``batch_correction`` compares the groups
    within each level of the model's batch covariate (the ``batch_key`` given to :func:`vae`).
    ``mode`` is "change" (an effect of at least ``delta``, calls at posterior expected
    ``fdr``) or "vanilla" (the sign of the change, calls at |log Bayes factor| ≥
    ``bayes_factor``). The methods, their columns and defaults are in
    :mod:`biovae.applications.differential`.
    """
    from biovae.applications import differential as de

    de.check_model(est)  # before est.schema_: an unfitted model raised AttributeError
    check_name(groupby, "groupby", "an obs column, e.g. 'cell_type'")
    settings = de.DESettings(
        mode=mode,
        delta=delta,
        fdr=fdr,
        bayes_factor=bayes_factor,
        n_samples=n_samples,
        seed=seed,
    )
    if not isinstance(batch_correction, (bool, np.bool_)):  # "batch" silently meant True
        raise ConfigError(
            f"batch_correction is True or False (the model's batch covariate is corrected "
            f"for), got {batch_correction!r}"
        )
    batch_key = None
    if batch_correction:
        cats = est.schema_.covariates.categorical
        if not cats:
            raise ConfigError("batch_correction needs a model fitted with a batch_key")
        batch_key = cats[0]
    common = {"groupby": groupby, "batch_key": batch_key, "settings": settings}
    if group1 is None:
        if group2 is not None:
            raise ConfigError("group2 needs group1; leave both out for every group vs the rest")
        return de.stack(de.one_vs_rest(est, adata, **common))
    if isinstance(group1, str) or np.ndim(group1) == 0:
        return de.differential_expression(est, adata, group1=group1, group2=group2, **common)
    tables = [  # scvi-tools' group1=["B", "NK"]: each level against group2 (or the rest)
        de.differential_expression(est, adata, group1=g, group2=group2, **common) for g in group1
    ]
    if not tables:
        raise ConfigError("group1 is an empty list; name a level, or leave group1 out")
    return de.stack(tables)


def map_query(
    adata: Any,
    est: VAE | SemiSupervisedVAE,
    *,
    epochs: int | None = None,
    key_added: str = "X_biovae",
    seed: int | None = None,
    device: str | None = None,
) -> VAE:
    """Map the query ``adata`` (new batches) onto the reference model ``est`` (scArches).

    Returns the extended model (trained on ``adata`` alone; every reference weight frozen) and
    writes the query's posterior means to ``adata.obsm[key_added]``, the settings to
    ``adata.uns[key_added]`` — and for a semi-supervised reference its predicted labels to
    ``obs`` — as :func:`vae` does (replacing an earlier fit's); see :mod:`biovae.query`.
    ``device`` is where the new weights train (default: where the reference trained). A
    semi-supervised reference trains on the labelled query cells of its label column in
    ``adata.obs`` too (unknown labels refused).
    """
    from biovae.query import map_query as _map_query

    check_target(adata, key_added)
    mapped = _map_query(est, adata, epochs=epochs, seed=seed, device=device)
    make_own(adata)
    _write_results(adata, mapped, key_added)
    return mapped
