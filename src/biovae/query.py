"""Reference mapping: place new data (a query with batches the reference never saw) on a fitted
conditional VAE's map without refitting it (scArches, as scvi-tools' ``load_query_data``).

The reference model grows input columns for the query's new covariate levels
(:mod:`biovae.models.surgery`) and is trained on the query alone, with every reference weight
frozen: only the new columns (and new per-batch dispersion rows) learn. Reference records
therefore keep their reference embedding, and query records land on the same map. A
semi-supervised reference's labelled query records (its label column, coded as in the reference
fit) add the labelled part of its objective, as scvi-tools' scANVI query training does. (Every
reference weight and batch-norm statistic is kept bit for bit; outputs agree up to float
rounding, ~1e-7, because a covariate-reading layer's input grows by the new zero-weighted
columns, which can change the order of its sums.)
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from biovae import likelihoods
from biovae.data._messages import preview
from biovae.errors import ConfigError, DataError
from biovae.inputs import as_dataset, check_features
from biovae.levels import MISSING, level_text, one_spelling_clash
from biovae.models import build_model
from biovae.models.surgery import column_map, extend_levels, freeze_except, transplant
from biovae.support import check_data
from biovae.training import fit_model, make_source, seeded


def map_query(
    est: Any,
    X: Any,
    obs: Any = None,
    *,
    epochs: int | None = None,
    seed: int | None = None,
    device: str | None = None,
    progress: bool = False,
) -> Any:
    """A new fitted estimator of ``est``'s kind: ``est`` extended to the query's new covariate
    levels and trained on the query ``X`` (with metadata ``obs``) alone.

    Parameters
    ----------
    est
        A fitted conditional :class:`biovae.VAE` or :class:`biovae.SemiSupervisedVAE`
        (categorical covariates, e.g. the batch). A semi-supervised model's classifier and
        class means are frozen with the rest. Query records labelled in its label column
        (``labels_key``; missing, "unknown" or the reference's unlabeled category: unlabelled)
        train on the labelled bound and classification term, so they guide only the new
        weights; a label the reference never saw is an error. Unlabelled records train as
        in the reference fit, and every record's label is predicted by :meth:`predict`.
    X, obs
        The query records and their metadata; their covariate columns may hold new levels.
    epochs, seed, device
        Training of the new weights (default: the reference's epochs, seed and device) on
        every query record, without early stopping; weight decay is off so the frozen weights
        cannot move. A reference trained on a GPU maps on a machine without one with
        ``device="cpu"``.
    progress
        Show a progress bar.
    """
    _check_reference(est)
    schema = est.schema_
    ds = as_dataset(X, obs, layer=est.config_.data.layer)
    if not len(ds):  # was refused as a query whose levels are all known
        raise DataError(f"{ds.source or 'query'}: 0 records; give the query's records to map")
    check_features(ds, schema, "the reference model")
    new_cov = _with_new_levels(schema.covariates, ds)
    train = dataclasses.replace(
        est.config_.train,
        # TrainConfig checks the types: int() made epochs=2.5 two, True one, "x" a ValueError
        epochs=est.config_.train.epochs if epochs is None else epochs,
        seed=est.config_.train.seed if seed is None else seed,
        device=est.config_.train.device if device is None else device,
        weight_decay=0.0,
        validation_fraction=0.0,  # few weights learn: no held-out guard, as scvi-tools' query
        patience=0,
    )
    cfg = dataclasses.replace(est.config_, train=train)
    model, history = _train(est, ds, new_cov, cfg, progress)
    context = _context(est, model.likelihood, ds, new_cov)
    new_schema = dataclasses.replace(schema, covariates=new_cov, context_stats=context)
    out = _mapped(type(est), _mapping(est, new_cov), cfg, new_schema, model, history, ds)
    if hasattr(est, "temperature_"):  # the reference's classifier, and its temperature
        out.temperature_, out.n_calibration_ = est.temperature_, est.n_calibration_
        out.label_dtype_ = getattr(est, "label_dtype_", None)
    return out


def _with_new_levels(cov: Any, ds: Any) -> Any:
    """``cov`` extended by the query's new levels; an error when there are none, or when a new
    level differs from another only in letter case or surrounding spaces ("b1 " for "b1": a
    known batch typed otherwise would be mapped as a new one)."""
    new_cov = extend_levels(cov, {n: list(_query_levels(ds, n, cov)) for n in cov.categorical})
    if new_cov == cov:
        raise DataError(
            f"{ds.source or 'query'}: every level of {', '.join(cov.categorical)} is already "
            "known to the reference model; embed these records with it directly"
        )
    for name, old, levels in zip(cov.categorical, cov.categories, new_cov.categories):
        clash = one_spelling_clash(levels, levels[len(old) :])
        if clash:
            raise DataError(
                f"{ds.source or 'query'}: levels {clash[0]!r} and {clash[1]!r} of {name!r} "
                "differ only in letter case or surrounding spaces; spell each level one way"
            )
    return new_cov


def _query_levels(ds: Any, name: str, cov: Any) -> Any:
    """The level spellings of the query's covariate ``name``; a missing value is an error (it
    was taken for a new level spelled "", and the error then offered that level to fill in)."""
    values = level_text(ds.obs_column(name))
    missing = np.flatnonzero(values == MISSING)
    if missing.size:
        i, levels = missing[0], cov.categories[cov.categorical.index(name)]
        known = ", ".join(levels[:10]) + (", ..." if len(levels) > 10 else "")
        raise DataError(
            f"{ds.source or 'query'}: covariate {name!r} is missing for record {i + 1} "
            f"({str(ds.ids[i])!r}; {missing.size} record(s) in all); fill it in with a "
            f"reference level ({known}) or a new one, or drop those records"
        )
    return values


def _train(est: Any, ds: Any, new_cov: Any, cfg: Any, progress: bool) -> tuple[Any, list]:
    """The extended model, trained on every query record with only its new entries free."""
    from biovae.fit_inputs import mmd_levels, n_batches

    schema = est.schema_
    lik = likelihoods.build(
        cfg.model.likelihood, schema.data_shape, schema.n_letters, n_batches(cfg, new_cov)
    )
    check_data(lik, ds)
    c = new_cov.encode(ds.obs, len(ds), ds.source, ds.ids)
    y = _query_labels(schema.labels, ds)
    source = make_source(ds.x, c, None, lik.data_dtype, y=y, g=mmd_levels(cfg, new_cov, c))
    with seeded(cfg.train.seed, cfg.train.device):
        model = build_model(lik, new_cov.width, cfg.model, schema.labels.n_classes)
        undo = freeze_except(
            model, transplant(est.model_, model, column_map(schema.covariates, new_cov))
        )
        try:
            history = fit_model(model, source, None, cfg.objective, cfg.train, progress=progress)
        finally:
            undo()
    model.eval()
    return model, history


def _query_labels(labels: Any, ds: Any) -> Any:
    """The label codes of the query's records (−1: unlabelled, read as in the reference fit),
    or None when the reference has no labels, the query lacks its label column or labels no
    record (so such a query trains exactly as an unlabelled one). A label the reference never
    saw is refused: its classifier has no class for it, and a misspelt label silently taken
    as "unlabelled" would drop the supervision the user gave."""
    if labels.key is None or labels.key not in ds.obs:
        return None
    source = ds.source or "query"
    codes = labels.encode(ds.obs, source, unseen=-2)
    unseen = np.flatnonzero(codes.numpy() == -2)
    if unseen.size:
        i, marks = unseen[0], "'unknown'" + (f", {labels.unlabeled!r}" if labels.unlabeled else "")
        numbers = ", -1 in a column or categorical of numbers,"  # column_unlabelled's rule
        marks += "" if labels.unlabeled or "-1" in labels.levels else numbers
        text = level_text(np.asarray(ds.obs[labels.key])[i : i + 1])[0]
        raise DataError(
            f"{source}: label {text!r} in column {labels.key!r} (record {i + 1}, "
            f"{str(ds.ids[i])!r}; {unseen.size} record(s) in all) is not one of the reference "
            f"model's classes ({preview(labels.levels)}); relabel those records with one of "
            f"them or mark them unlabelled ({marks} or empty)"
        )
    return codes if bool((codes >= 0).any()) else None


def _context(est: Any, lik: Any, ds: Any, new_cov: Any) -> dict[str, float]:
    """The reference's sampling summaries (e.g. library sizes), with those of each new level of
    the batch key from its query records (samples of a new batch had the reference's pooled
    library sizes, not those of the query's cells)."""
    from biovae.fit_inputs import batch_levels

    key, old = est.config_.data.batch_key, est.schema_.context_stats
    added = set(_mapping(est, new_cov)["levels_added"].get(key, ())) if key else set()
    if not added:
        return old
    own = lik.context_stats(ds.x, batch_levels(ds.obs, key))
    return {**old, **{k: v for k, v in own.items() if k.partition("|")[2] in added}}


def _mapping(est: Any, new_cov: Any) -> dict:
    """What the mapped model records of its reference (metadata.json, model card)."""
    cov = est.schema_.covariates
    added = {
        name: list(new[len(old) :])
        for name, old, new in zip(cov.categorical, cov.categories, new_cov.categories)
        if len(new) > len(old)
    }
    return {
        "reference_fingerprint": est.fingerprint_,
        "reference_n_train": est.n_train_,
        "levels_added": added,
    }


def _check_reference(est: Any) -> None:
    """One-line errors for references that cannot be mapped."""
    from biovae.estimator import VAE
    from biovae.ssvae_estimator import SemiSupervisedVAE

    if type(est) not in (VAE, SemiSupervisedVAE) or not hasattr(est, "model_"):
        raise ConfigError(
            "reference mapping needs a fitted biovae.VAE or SemiSupervisedVAE (autoencoders and "
            "PCA are not supported)"
        )
    if est.config_.model.classifier_input == "clr_residual" and type(est) is SemiSupervisedVAE:
        raise ConfigError(
            "a classifier reading clr_residual has per-batch offsets that a query cannot extend; "
            "map a model fitted with another classifier_input"
        )
    if not est.schema_.covariates.categorical:
        raise ConfigError(
            "reference mapping needs a model conditioned on a categorical covariate (e.g. "
            "--batch-key (batch_key) batch); this model has none"
        )


def _mapped(kind, mapping, cfg, schema, model, history, ds) -> Any:
    from biovae.data.fingerprint import fingerprint

    out = kind(config=cfg)
    out.mapping_ = mapping
    out.config_, out.schema_, out.model_, out.history_ = cfg, schema, model, history
    out.fingerprint_ = fingerprint(ds)
    out.n_train_, out.n_validation_ = len(ds), 0
    out._note_saved_features(schema)  # the reference's features, which the query has
    return out
