"""Report sections about the model: summary, training curves, latent usage, latent maps."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from biovae.config import kind_name
from biovae.data.dataset import Dataset
from biovae.diagnostics.latent import ACTIVE_THRESHOLD, kl_per_dimension, unit_variances
from biovae.latent_usage import FIT_REMEDIES, Remedies, collapse_remedy, diverged, unsettled
from biovae.reports import plots
from biovae.reports.analysis import code_name, default_color_by, is_categorical, project_2d
from biovae.reports.content import Highlight, Plot, Section, needs_data
from biovae.training.history import kept_epoch, unfinished_warmup, warmup_epochs


def likelihood_text(est: Any) -> str:
    """The likelihood as the model uses it: PCA fits a Gaussian (probabilistic PCA) to the
    likelihood family's encoder features (e.g. log1p counts), not that family."""
    name = est.config_.model.likelihood.name
    if model_kind(est) == "pca":
        from biovae import likelihoods
        from biovae.model_card import raw_features

        if raw_features(name):
            return "Gaussian (probabilistic PCA) on the data"
        return (
            f"Gaussian (probabilistic PCA) on {name} features "
            f"({likelihoods.get(name).features_text})"
        )
    return name


def model_kind(est: Any) -> str:
    """``vae``, ``ae`` or ``pca``, from the fitted configuration."""
    return est.config_.model.kind


def summary_facts(est: Any, ds: Dataset | None, same: bool | None) -> list[tuple[str, str]]:
    """(label, value) rows of the model summary table; ``same``: whether ``ds`` is the fitted
    data (None: unknown)."""
    from biovae import __version__

    cfg, kind = est.config_, model_kind(est)
    facts = [
        ("Model", kind_name(kind, capital=True)),
        ("Likelihood", likelihood_text(est)),
        ("Latent dimensions", str(cfg.model.n_latent)),
    ]
    if kind != "pca":
        hidden = cfg.model.network.hidden
        facts.append(("Hidden widths", " → ".join(map(str, hidden)) if hidden else "linear"))
        if kind != "ae":  # an autoencoder has no KL term
            facts.append(("β (KL weight)", _beta_text(cfg.objective, est.history_)))
        facts.append(("Epochs run", _epochs_text(est)))
    if kind == "ssvae":
        levels = ", ".join(est.schema_.labels.levels)
        facts.append(("Labels", f"{cfg.data.labels_key} ({levels})"))
    cov = est.schema_.covariates
    if cov.width:
        facts.append(("Conditioned on", ", ".join((*cov.categorical, *cov.continuous))))
    if cfg.objective.mmd_batch > 0 and kind != "pca":
        facts.append(("MMD penalty (λ)", f"{cfg.objective.mmd_batch:g}: covariates removed from z"))
    n_train = getattr(est, "n_train_", 0)
    if n_train:
        n_val = getattr(est, "n_validation_", 0)
        facts.append(
            ("Training records", f"{n_train:,}" + (f" + {n_val:,} validation" if n_val else ""))
        )
    if ds is not None:
        unit = "positions" if ds.alphabet else "features"
        facts.append(
            (
                "Report data",
                f"{len(ds):,} records × {ds.n_features:,} {unit}"
                + (f" ({ds.source})" if ds.source else ""),
            )
        )
    facts.append(("Data fingerprint", _fingerprint_text(est, same)))
    facts.append(("biovae version", __version__))
    return facts


def _beta_text(objective: Any, history: list[dict]) -> str:
    text = f"{objective.beta:g}"
    if objective.kl_warmup_epochs:
        warmup = unfinished_warmup(history, objective.beta)
        text += f", warm-up over {objective.kl_warmup_epochs} epochs{warmup}"
    if objective.free_bits:
        text += f", free bits {objective.free_bits:g} nats"
    if objective.iwae_samples > 1:
        text += f" (IWAE-{objective.iwae_samples} objective)"
    return text


def _epochs_text(est: Any) -> str:
    run, planned = len(est.history_), est.config_.train.epochs
    if not run:
        return "unknown (no training history saved)"
    return f"{run} of {planned}" + (" (stopped early)" if run < planned else "")


def _fingerprint_text(est: Any, same: bool | None) -> str:
    fp = getattr(est, "fingerprint_", "") or "unknown"
    short = fp.split(":")[-1][:16]
    if same is None:
        return short
    return short + (" (same data as the report)" if same else " (report data differ)")


def training_section(est: Any) -> Section:
    """ELBO, reconstruction and KL per epoch."""
    title = "Training curves"
    if not est.history_:
        why = (
            "PCA is fitted in closed form, so there are no training curves."
            if model_kind(est) == "pca"
            else "This model was saved without a training history."
        )
        return Section("training", title, notes=(why,))
    stochastic = model_kind(est) in ("vae", "ssvae")
    warm = warmup_epochs(est.history_, est.config_.objective.beta) if stochastic else 0
    cfg = est.config_
    kept = kept_epoch(est.history_, cfg.objective.beta, cfg.train.early_stopping)
    keys = ("elbo", "recon", "kl") if stochastic else ("recon",)
    png = plots.training_curves(est.history_, keys, warm, kept)
    lead = (
        "How the objective evolved. The curves should flatten out; a validation curve that "
        "turns upward while training keeps improving means over-fitting."
    )
    validated = any("val_recon" in r for r in est.history_)
    caption = "Per-record values in nats; solid: training records" + (
        ", dashed: validation records." if validated else " (no validation split)."
    )
    if warm:
        planned = cfg.objective.kl_warmup_epochs
        span = f"{warm} epochs" if warm >= planned else f"{warm} of {planned} planned epochs"
        caption += (
            f" The shaded band marks the KL warm-up (β rising over {span}), "
            "during which the KL may grow before it settles."
        )
    if kept is not None:
        caption += f" The dotted line marks epoch {kept}, whose weights were kept."
    alt = "ELBO, reconstruction and KL per epoch" if stochastic else "Reconstruction per epoch"
    return Section(
        "training",
        title,
        lead,
        plots=(Plot("training-curves", png, alt, caption),),
        highlights=(_final_value(est.history_, kept, stochastic),),
    )


def _final_value(history: list[dict], kept: int | None, stochastic: bool) -> Highlight:
    """The kept epoch's ELBO (VAE) or reconstruction error (autoencoder), validation first:
    the weights the model has, not the last epoch trained."""
    row = next((r for r in history if r.get("epoch") == kept), history[-1])
    key, what = ("elbo", "ELBO") if stochastic else ("recon", "reconstruction error")
    split = "validation" if f"val_{key}" in row else "training"
    value = row[f"val_{key}"] if split == "validation" else row[key]
    when = f"epoch {kept}, kept" if kept is not None else "final"
    return Highlight(f"{value:,.1f}", f"{what} ({when}), {split} (nats/record)")


_USAGE_CAPTION = (
    "Inactive dimensions (grey, below the dashed line) carry no information about the records "
    "and could be dropped"
)


def usage_section(
    est: Any, ds: Dataset | None, z_mean: np.ndarray | None, remedies: Remedies = FIT_REMEDIES
) -> Section:
    """KL per latent dimension (VAE) and activity; a one-sentence verdict on collapse, with
    the ``remedies`` of the command that fitted the model (as its collapse warning gives)."""
    title = "Latent dimensions"
    if ds is None or z_mean is None:
        return needs_data("latent-usage", title, "Measuring how much each latent dimension is used")
    activity = unit_variances(z_mean)
    active = activity > ACTIVE_THRESHOLD
    stochastic = model_kind(est) in ("vae", "ssvae")
    kl = kl_per_dimension(est, ds) if stochastic else None
    png = plots.latent_usage(activity, ACTIVE_THRESHOLD, kl)
    plot = Plot(
        "latent-usage",
        png,
        "Usage of each latent dimension",
        _USAGE_CAPTION
        + ("; among active ones, more KL means more information." if stochastic else "."),
        wide=stochastic,
    )
    k, n_active = len(activity), int(active.sum())
    lead = (
        f"A latent dimension is active when its {_dimension_value(est)} moves with the data "
        f"(variance over records above {ACTIVE_THRESHOLD:g}, Burda et al. 2016)."
    )
    if kl is not None:
        lead += (
            " For a VAE its KL to the prior measures how much information it carries; "
            f"in total {kl.sum():.2f} nats per record."
        )
    history, cfg = est.history_, est.config_
    return Section(
        "latent-usage",
        title,
        lead,
        _verdict(
            n_active,
            k,
            stochastic,
            None if kl is None else float(kl.sum()),
            None if kl is None else float(kl[~active].sum()),
            unsettled(history, cfg) if stochastic and history else None,
            diverged(history, cfg, remedies.diverged) if stochastic else "",
            remedies.of(cfg.objective),
            remedies.longer,
        ),
        plots=(plot,),
        highlights=(Highlight(f"{n_active} / {k}", "active latent dimensions", n_active > 0),),
    )


def _verdict(
    n_active: int,
    k: int,
    stochastic: bool,
    kl_total: float | None = None,
    kl_inactive: float | None = None,
    ended: str | None = None,
    bad: str = "",
    remedies: str = FIT_REMEDIES.elbo,
    longer: str = FIT_REMEDIES.longer,
) -> str:
    """One plain-language sentence on how many latent dimensions are used; ``kl_total`` and
    ``kl_inactive``: KL per record of all dimensions and of the inactive ones (nats);
    ``ended``: how the fit ended before it settled (:func:`biovae.latent_usage.unsettled`;
    ``""``: it settled, None: not known); ``bad``: that its loss was not finite
    (:func:`biovae.latent_usage.diverged`), told instead. A collapse is told as the collapse
    warning tells it (:func:`biovae.latent_usage.collapse_remedy`): ``bad``, else ``ended``
    with the advice to train longer (``longer``: how), else ``remedies`` (those of the
    command and objective that fitted the model: :meth:`~biovae.latent_usage.Remedies.of`)."""
    if n_active == 0:
        if not stochastic:
            why = "its codes barely vary across records."
        elif kl_total is not None and kl_total > 0.1 * k:  # posteriors moved, means did not
            why = (
                f"its posteriors differ from the prior ({kl_total:.2f} nats) but hardly between "
                f"records{_short_training(ended, bad)}"
            )
        else:
            advice = collapse_remedy(remedies, ended or "", bad, longer)
            why = f"{_collapse_lead(ended, bad)}{advice}."
        return (
            f"None of the {k} latent dimensions is active: the model ignores its latent space; "
            + why
        )
    if n_active == k:
        rest = "none has collapsed" if stochastic else "all vary across records"
        return (
            f"All {k} latent dimensions are active (carry information); {rest}, so a larger "
            "latent space might capture more."
        )
    rest = "have collapsed to the prior" if stochastic else "barely vary across records"
    if stochastic and kl_inactive is not None and kl_inactive > 0.1 * (k - n_active):
        # an inactive dimension with a large KL has moved away from the prior, not collapsed
        rest = (
            f"hardly vary between records although their posteriors differ from the prior "
            f"({kl_inactive:.2f} nats)"
            + (
                " — often a short training"
                if ended is None and not bad
                else _short_training(ended, bad)[:-1]
            )
        )
    return f"{n_active} of {k} latent dimensions are active (carry information); the others {rest}."


def _collapse_lead(ended: str | None, bad: str) -> str:
    """The words before a collapse's remedy (:func:`_verdict`): none before a diverged fit's
    (its posteriors say nothing), the posteriors at the prior before a short fit's."""
    if bad:
        return ""
    if ended:
        return "its posteriors sit at the prior "
    return "the posterior has collapsed to the prior. "


def _short_training(ended: str | None, bad: str = "") -> str:
    """The verdict's words on the training's length: as the loss trend of the fit's history
    tells (``ended``, :func:`_verdict`), or, without a history, the usual cause; for a fit
    whose loss was not finite (``bad``), that instead."""
    if bad:
        return f" — {bad}."
    if ended is None:
        return " — often a short training; train longer before reading the map."
    if ended:
        return f" — the fit ended {ended}; train longer before reading the map."
    return (
        " — yet its loss had settled by the end of training, so more epochs alone may "
        "not help (try a smaller β or KL warm-up)."
    )


def map_section(
    est: Any,
    ds: Dataset | None,
    z_mean: np.ndarray | None,
    color_by: Sequence[str] | None,
) -> Section:
    """The latent map (2-D latent or PCA of posterior means) coloured by metadata columns."""
    title = "Latent map"
    if ds is None or z_mean is None:
        return needs_data("latent-map", title, "Drawing the latent map")
    proj = project_2d(z_mean, code_name(est, plural=True))
    columns = tuple(default_color_by(ds) if color_by is None else color_by)
    maps = [
        Plot(
            "latent-map",
            plots.latent_map(proj, ds.obs_column(name), name),
            f"Latent map coloured by {name}",
            _map_caption(name, ds.obs[name]),
            wide=False,
        )
        for name in columns
    ]
    if not maps:
        maps = [
            Plot(
                "latent-map",
                plots.latent_map(proj, None, None),
                "Latent map",
                "No metadata column to colour by (pass color_by=[...]).",
                wide=False,
            )
        ]
    lead = (
        f"Each point is one record placed at its {code_name(est)}; the map shows {proj.how}. "
        "Records the model finds similar sit close together: look for groups that match "
        "known labels and for labels that are smeared across the map."
    )
    return Section("latent-map", title, lead, plots=tuple(maps))


def _map_caption(name: str, values: np.ndarray) -> str:
    if is_categorical(values):
        return f"Coloured by {name}; the legend gives each category's record count."
    return f"Coloured by {name} (colour bar); grey points have no value."


def _dimension_value(est: Any) -> str:
    return "code f(x)_k" if model_kind(est) == "ae" else "posterior mean E[z_k|x]"
