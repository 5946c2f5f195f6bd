"""Run the diagnostics on a fitted model and data: one call, one JSON-ready dict.

Used by ``biovae diagnose``, ``biovae sweep`` and the report; every number is also available
from the individual functions in :mod:`biovae.diagnostics`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch

from biovae.config import FitConfig
from biovae.data.dataset import Dataset
from biovae.diagnostics import ACTIVE_THRESHOLD, active_units
from biovae.diagnostics.amortization import amortization_gap
from biovae.diagnostics.collapse import CollapseReport, collapse_report
from biovae.diagnostics.fidelity import check_sizes, sequence_fidelity, table_fidelity
from biovae.diagnostics.likelihood import log_likelihood
from biovae.diagnostics.predictive import posterior_predictive
from biovae.diagnostics.rate_distortion import (
    mutual_information,
    rate_distortion,
    rate_distortion_summary,
)
from biovae.errors import ConfigError, DataError, NotFittedError
from biovae.estimator import VAE, Autoencoder
from biovae.inputs import as_dataset
from biovae.latent_usage import diverged, unsettled
from biovae.pca_estimator import PCA
from biovae.pca_estimator import check_fits as check_pca_fits
from biovae.record_noise import record_keys
from biovae.setting_names import setting
from biovae.ssvae_estimator import SemiSupervisedVAE
from biovae.training import seeded
from biovae.training.sources import BatchPasses


@dataclasses.dataclass(frozen=True)
class DiagnoseOptions:
    """How much work the diagnostics do (defaults suit a few thousand records on a CPU).

    Counts are checked on construction: at least two IWAE samples (one is the ELBO: its "log
    p(x)" would add nothing to it and the approximation gap would be sampling noise), one gap
    record and one R–D sample;
    ``gap_steps`` = 0 measures the gap without refinement and ``ppc_replicates`` = 0 skips the
    posterior predictive checks; ``seed`` is in 0 .. 2**63 − 1, as a fit's. With a single gap
    record its standard errors are undefined (NaN; null in the JSON). ``max_records`` (None:
    all) diagnoses only that many of the records given, those whose keys of stream "records"
    (seed, record id) are the smallest: every diagnostic costs a pass over the records per
    draw (30 decoded replicates, K IWAE samples), hours for 10⁵ cells on a CPU."""

    iwae_k: int = 1000
    gap_records: int = 200
    gap_steps: int = 500
    rd_samples: int = 16
    ppc_replicates: int = 30
    seed: int = 0
    max_records: int | None = None

    def __post_init__(self) -> None:
        for name, flag, low in (
            ("iwae_k", "--iwae", 2),
            ("gap_records", "--gap-records", 1),
            ("gap_steps", "--gap-steps", 0),
            ("rd_samples", None, 1),
            ("ppc_replicates", None, 0),
            ("seed", "--seed", 0),
            ("max_records", "--max-records", 2),  # activity and MI compare records
        ):
            value = getattr(self, name)
            if value is None and name == "max_records":  # None: all records
                continue
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
                where = f"{name} ({flag})" if flag else name
                raise ConfigError(
                    f"diagnostics option {where} must be a whole number >= {low}, not {value!r}"
                )
        if self.seed >= 2**63:  # numpy's and torch's generators take no larger seed
            raise ConfigError(f"diagnostics option seed (--seed) must be < 2**63, not {self.seed}")


def diagnose(
    est: Any,
    data: Any,
    options: DiagnoseOptions = DiagnoseOptions(),
    say: Callable[[str], None] | None = None,
) -> dict:
    """Rate/distortion, collapse, IWAE log p(x), amortization gap and (for numeric data)
    posterior predictive checks of ``est`` on ``data``. A semi-supervised VAE is diagnosed as
    the generative model of x alone: its labels are marginalised (the mixture prior p(z) in
    log p(x); q(y|x) from its classifier in the bound, :func:`biovae.objectives.rate_terms`).
    ``data`` is anything an estimator takes (a Dataset, an AnnData, an array, a DataFrame).
    ``say`` (e.g. ``print``) is told of the work ahead and of each diagnostic as it starts:
    on many records they take minutes each. The same ``options.seed`` gives the same numbers.

    Returns a dict (what ``biovae diagnose`` writes as diagnostics.json): ``records``,
    ``rate_distortion`` (``rate``, ``distortion``, ``elbo``, each with ``_se``),
    ``collapse`` (``kl_per_dim``, ``n_active``, ``active``, ``unit_variance``,
    ``mutual_information``, ``verdict``, ...), ``log_likelihood`` (IWAE-K: ``k``, ``mean``,
    ``se_records``, ``se_monte_carlo``, ``n``), ``amortization`` (``amortized_elbo``,
    ``refined_elbo``, ``log_px``, ``amortization_gap``, ``approximation_gap``, each with
    ``_se``) and ``predictive`` or ``predictive_skipped``. Log-densities, KLs and gaps are
    in nats per record (a whole record, summed over its features, not per feature), averaged
    over the records; ``kl_per_dim`` is nats per record per latent dimension."""
    say = say or (lambda message: None)
    _check_diagnosable(est)
    data = as_dataset(data, layer=est.config_.data.layer)
    if len(data) < 2:
        raise DataError(
            f"{data.source or 'data'}: diagnostics need at least 2 records, got {len(data)} "
            "(activity and mutual information measure how the codes vary between records)"
        )
    model, seed = est.model_, options.seed
    given = len(data)
    if options.max_records is not None and given > options.max_records:
        data = data.subset(_smallest_keys(data.ids, options.max_records, seed, "records"))
    batches = est.batches(data)
    say(_work_ahead(len(data), options, _no_predictive_check(est.model_.likelihood, 1) is None))
    # Monte-Carlo draws keyed to (seed, record id, diagnostic): a record's numbers do not depend
    # on the other records nor their order, and the IWAE draws are those of `score --iwae K`
    with seeded(seed):  # (nothing else here should draw, but a stray draw stays reproducible)
        say(f"diagnose: rate and distortion ({options.rd_samples} draws per record)")
        rd = rate_distortion(
            model, _keyed(batches, data.ids, seed, "rate-distortion"), options.rd_samples
        )
        say("diagnose: mutual information and active units")
        mi = mutual_information(model, _keyed(batches, data.ids, seed, "mutual-info"))
        active, variances = active_units(est, data)
        collapse = collapse_report(rd.kl_nk.mean(0), variances, active, mi, est.config_)
        collapse = _training_remedy(collapse, est)
        say(f"diagnose: log p(x) by IWAE ({options.iwae_k} draws per record)")
        ll = log_likelihood(model, _keyed(batches, data.ids, seed, ""), k=options.iwae_k)
        subset = data.subset(_smallest_keys(data.ids, options.gap_records, seed, "gap-records"))
        say(f"diagnose: amortization gap ({len(subset)} records, {options.gap_steps} steps)")
        gap = amortization_gap(
            model,
            _keyed(est.batches(subset), subset.ids, seed, "gap"),
            steps=options.gap_steps,
            k=min(options.iwae_k, 1000),
        )
    out = {
        "records": len(data),
        **_subsample_note(len(data), given, seed),
        "rate_distortion": rd.to_dict(),
        "collapse": collapse.to_dict(),
        "log_likelihood": ll.to_dict(),
        "amortization": gap.to_dict(),
    }
    skipped = _no_predictive_check(model.likelihood, options.ppc_replicates)
    if skipped:
        out["predictive_skipped"] = skipped
        return out
    with seeded(options.seed):  # numeric data: per-feature checks over the observed entries
        say(f"diagnose: posterior predictive checks ({options.ppc_replicates} replicates)")
        out["predictive"] = posterior_predictive(model, batches, options.ppc_replicates).to_dict()
    return out


def _training_remedy(collapse: CollapseReport, est: Any) -> CollapseReport:
    """``collapse`` with, first among its remedies, the advice to train longer where a latent
    dimension is inactive and the fit of ``est`` ended before it settled (in its KL warm-up,
    its loss still falling, or too few epochs to tell: :func:`biovae.latent_usage.unsettled`),
    or the remedies for a diverged fit where its loss was not finite in most epochs
    (:func:`biovae.latent_usage.diverged`)."""
    history = getattr(est, "history_", None) or []
    if collapse.n_active == len(collapse.active):
        return collapse
    bad = diverged(history, est.config_)
    if bad:
        return dataclasses.replace(collapse, remedies=[bad, *collapse.remedies])
    ended = unsettled(history, est.config_)
    if not ended:
        return collapse
    longer = setting("train.epochs")
    advice = f"the fit ended {ended}: train longer, raising {longer}, before changing the model"
    return dataclasses.replace(collapse, remedies=[advice, *collapse.remedies])


def _check_diagnosable(est: Any) -> None:
    """A one-line error unless ``est`` is a fitted VAE (or semi-supervised VAE)."""
    if isinstance(est, (VAE, SemiSupervisedVAE)) and not hasattr(est, "model_"):
        raise NotFittedError(f"this {type(est).__name__} is not fitted yet; call fit() first")
    if not getattr(getattr(est, "model_", None), "stochastic", False):
        raise ConfigError("diagnostics need a VAE (the autoencoder and PCA have no posterior)")


def _no_predictive_check(lik: Any, replicates: int) -> str | None:
    """Why the posterior predictive check does not run for ``lik``, or None when it does."""
    if not replicates:
        return "not run: 0 replicates were asked for"
    if lik.data_dtype != torch.float32:
        return "not run: it compares per-feature statistics of numeric data, not letters"
    return None


#: Records beyond which the note of the work ahead points to ``max_records``.
MANY_RECORDS = 10_000


def _work_ahead(n: int, options: DiagnoseOptions, predictive: bool) -> str:
    """The note of what ``diagnose`` is about to do: one decoder pass over the records per draw
    (R–D draws, IWAE samples, predictive replicates), so the time grows with records × draws."""
    ppc = options.ppc_replicates if predictive else 0
    draws = options.rd_samples + options.iwae_k + ppc
    note = f"diagnose: {n:,} records, {draws:,} decoded draws of each (time grows with both)"
    if options.max_records is None and n > MANY_RECORDS:
        note += f"; max_records (--max-records) diagnoses fewer, e.g. {MANY_RECORDS:,}"
    return note


def _keyed(passes: BatchPasses, ids: Sequence[object], seed: int, stream: str) -> BatchPasses:
    return passes.keyed(record_keys(ids, seed, stream))


def _smallest_keys(ids: Sequence[object], m: int, seed: int, stream: str) -> np.ndarray:
    """Sorted positions of the ``m`` records whose keys of ``stream`` are the smallest: a
    choice made by the records' ids and the seed, whatever their order."""
    return np.sort(np.argsort(record_keys(ids, seed, stream), kind="stable")[:m])


def _subsample_note(used: int, given: int, seed: int) -> dict[str, Any]:
    """What the JSON says when only some of the records given were diagnosed."""
    if used == given:
        return {}
    return {
        "records_given": given,
        "subsample": (
            f"{used} of the {given} records given were diagnosed (max_records): those whose "
            f'keys of stream "records" (seed {seed}, record id) are the smallest; every number '
            "is of these records"
        ),
    }


def sweep(
    train: Dataset,
    held_out: Dataset,
    betas: Sequence[float],
    config: FitConfig,
    rd_samples: int = 16,
) -> list[dict[str, float]]:
    """Fit one VAE per β and measure held-out rate and distortion of each (the R–D curve).
    The held-out records must be at least 2: active units measure how codes vary between them.
    Data left on disk (``--stream``) stay there: each fit reads its minibatches, and the
    held-out numbers are summed batch by batch (:func:`rate_distortion_summary`)."""
    if len(held_out) < 2:  # before any training
        raise DataError(
            f"{held_out.source or 'held-out data'}: a sweep measures rate, distortion and "
            f"active units on at least 2 held-out records, got {len(held_out)}"
        )
    if config.objective.iwae_samples > 1:  # refused at training, after the first β's model
        raise ConfigError(
            f"a β sweep weighs the ELBO's KL term, which the IWAE-{config.objective.iwae_samples}"
            " bound (objective.iwae_samples) does not have; set objective.iwae_samples to 1"
        )
    points = []
    for beta in betas:
        cfg = dataclasses.replace(
            config, objective=dataclasses.replace(config.objective, beta=float(beta))
        )
        est = _sweep_estimator(cfg.model.kind)(config=cfg).fit(train)
        with seeded(cfg.train.seed):
            rd = rate_distortion_summary(est.model_, est.batches(held_out), rd_samples)
        active = int((rd.activity() > ACTIVE_THRESHOLD).sum())
        points.append({"beta": float(beta), **rd.to_dict(), "active_units": active})
    return points


def _sweep_estimator(kind: str) -> type:
    if kind == "ssvae":
        return SemiSupervisedVAE
    if kind != "vae":
        raise ConfigError(
            f"a β sweep trains VAEs (--model vae or ssvae; config.model.kind); {kind!r} has no "
            "rate to weigh"
        )
    return VAE


#: Held-out records (and samples) a fidelity comparison uses at most, unless told otherwise.
FIDELITY_RECORDS = 5000


def fidelity_comparison(
    train: Dataset, held_out: Dataset, config: FitConfig, n_samples: int | None = None
) -> dict[str, dict[str, float]]:
    """Prior samples of a VAE, a plain autoencoder and PCA against held-out data. Models
    conditional on covariates sample with the covariates of held-out records (each once while
    they last), so the comparison is matched; a labels key is ignored (all three unsupervised).
    Without ``n_samples``, as many samples as held-out records, at most :data:`FIDELITY_RECORDS`
    of them (a seeded random choice): only the records compared are made dense."""
    n = n_samples or min(len(held_out), FIDELITY_RECORDS)
    check_sizes(len(held_out), n)  # before any training
    config = dataclasses.replace(  # the VAE and autoencoder compared have no labels
        config,
        model=dataclasses.replace(config.model, kind="vae"),  # each estimator its own kind
        data=dataclasses.replace(config.data, labels_key=None),
        train=dataclasses.replace(config.train, early_stopping="elbo"),
    )
    check_pca_fits(train, config)  # PCA is fitted last: refused before the VAE and autoencoder
    seq = train.alphabet is not None
    counts = config.model.likelihood.name in ("poisson", "nb", "zinb")
    names = (*config.data.categorical, *config.data.continuous_covariates)
    rows = np.resize(np.random.default_rng(config.train.seed).permutation(len(held_out)), n)
    obs = {c: np.asarray(held_out.obs_column(c))[rows] for c in names} if names else None
    compared = held_out.subset(np.sort(rows)) if n <= len(held_out) else held_out
    real = compared.x.toarray() if sp.issparse(compared.x) else np.asarray(compared.x)
    out = {}
    for name, cls in (("VAE", VAE), ("autoencoder", Autoencoder), ("PCA", PCA)):
        est = cls(config=config).fit(train)
        given = obs if est.schema_.covariates.width else None  # PCA conditions on none
        fake = est.sample(n, obs=given, seed=config.train.seed)
        out[name] = (
            sequence_fidelity(real, fake, len(train.alphabet))
            if seq
            else table_fidelity(real, fake, counts, seed=config.train.seed)
        )
    return out
