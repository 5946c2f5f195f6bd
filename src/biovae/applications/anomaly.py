"""Anomaly scores of records under a fitted model: the table ``biovae score`` writes.

Columns (each a float64 array, one value per record, in the data's order):

* ``elbo`` (and ``iwae_K``): log p(x) bounds in nats per record (higher = more like the
  training data), :meth:`biovae.estimator.VAE.score_samples`;
* for a likelihood with a unit of comparison (genotypes: the observed locus),
  ``elbo_per_<unit>`` (and ``iwae_K_per_<unit>``) = (score + KL) / observed units − KL / units
  of a complete record: the log-likelihood per observed unit, the rate (one cost per record)
  spread as for a complete record, so that records with different numbers of missing units
  compare;
* for a likelihood with record QC (genotypes), its columns (``observed_loci``,
  ``missing_rate``, ``het_observed``, ``het_expected``, ``het_f``) and ``qc_flag``: the QC
  limits a record is past (``missing``, ``heterozygosity``; empty when none), by
  :class:`QcLimits`; the expected heterozygosity from the training data's allele frequencies
  when the model keeps them (:func:`qc_frequencies`).

Given the scores of reference records (normal ones, e.g. held-out training records),
:func:`tail_columns` adds ``tail_<col>``, the conformal p-value of :func:`tail_probabilities`
for the main score column (:func:`main_score`), and optionally a boolean ``anomaly``.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from biovae.data.dataset import Dataset
from biovae.errors import ConfigError
from biovae.likelihoods.base import dense_blocks
from biovae.likelihoods.genotype_qc import FREQUENCIES

#: where the allele frequencies of the heterozygosity QC come from (:class:`QcLimits`)
QC_FREQUENCIES = ("training", "scored")
#: fewer reference records than this cannot give the small p-values anomaly detection needs
MIN_REFERENCE = 20


@dataclass(frozen=True)
class QcLimits:
    """How a record's QC is computed and when it is flagged.

    max_missing : a missing rate above it is flagged ``missing`` (``plink --mind 0.1``).
    min_het_f : an F below it (more heterozygous calls than the allele frequencies lead to
        expect, as in DNA of two individuals mixed) is flagged ``heterozygosity``. Typical
        individuals of the eHGDP microsatellites lie in −0.12..0.58 (isolated populations
        above 0), simulated two-individual mixtures near −0.25.
    frequencies : the allele frequencies of the expected heterozygosity: ``training``, the
        training data's, kept by the model (``plink --read-freq``; those of the records scored
        for a model saved before they were kept), or ``scored``, those of the records scored
        (``plink --het`` alone: score a cohort, not a handful of records).
    """

    max_missing: float = 0.1
    min_het_f: float = -0.2
    frequencies: str = "training"

    def __post_init__(self) -> None:
        if not 0.0 <= self.max_missing <= 1.0 or math.isnan(self.max_missing):
            raise ConfigError(
                f"the QC max_missing (--qc-max-missing) is {self.max_missing}; give a rate in 0..1"
            )
        if not -1.0 <= self.min_het_f <= 1.0 or math.isnan(self.min_het_f):
            raise ConfigError(
                f"the QC min_het_f (--qc-min-f) is {self.min_het_f}; give an F in -1..1"
            )
        if self.frequencies not in QC_FREQUENCIES:
            raise ConfigError(
                f"the QC frequencies (--qc-frequencies) are {self.frequencies!r}; give one of "
                + ", ".join(QC_FREQUENCIES)
            )


def score_columns(
    est: Any,
    ds: Dataset,
    samples: int = 1,
    iwae: int = 1,
    seed: int = 0,
    qc: QcLimits | None = None,
) -> dict[str, np.ndarray]:
    """The score table of dataset ``ds`` under fitted estimator ``est`` (module docstring):
    ``samples`` posterior draws per ELBO, an IWAE-``iwae`` bound when ``iwae`` > 1, draws
    keyed to ``seed`` and each record's id; QC flagged by ``qc`` (default :class:`QcLimits`)."""
    columns = {"elbo": est.score_samples(ds, n_samples=samples, seed=seed)}
    if iwae > 1:
        columns[f"iwae_{iwae}"] = est.score_samples(ds, iwae=iwae, seed=seed)
    likelihood = getattr(getattr(est, "model_", None), "likelihood", None)
    if likelihood is None or not len(ds):  # PCA scores features, not a likelihood's terms
        return columns
    units = _score_units(likelihood, ds)
    if units is not None:
        name, count, total = units
        per = np.where(count > 0, count, np.nan)
        # the rate (KL) is one cost per record, not a term per unit: spread over all the
        # model's units, as for a complete record, not over the few observed of a sparse one
        rate = _rates(est, ds)
        columns.update(
            {f"{k}_per_{name}": (v + rate) / per - rate / total for k, v in columns.items()}
        )
    qc = qc or QcLimits()
    record_qc = likelihood.record_qc(lambda: dense_blocks(ds.x), qc_frequencies(est, qc))
    if record_qc is not None:
        columns.update(record_qc)
        columns["qc_flag"] = qc_flags(record_qc, qc)
    return columns


def tail_probabilities(scores: np.ndarray, reference_scores: np.ndarray) -> np.ndarray:
    """Conformal p-values of ``scores`` (n,) against ``reference_scores`` (m,) of normal
    records, lower = less like them: p_i = (1 + #{j : r_j ≤ s_i}) / (m + 1).

    If a record and the m reference records are exchangeable (drawn alike, the reference not
    chosen by its scores), P(p ≤ α) = ⌊α(m + 1)⌋ / (m + 1) ≤ α for continuous scores and at
    most that with ties (a tie counts against the record). The smallest p-value is 1/(m + 1).
    A NaN score (nothing to score) gets NaN; NaN reference scores are left out of m.
    """
    s = np.asarray(scores, dtype=np.float64)
    ref = np.sort(np.asarray(reference_scores, dtype=np.float64).ravel())
    ref = ref[~np.isnan(ref)]
    below = np.searchsorted(ref, s, side="right")  # #{r ≤ s}, ties included
    return np.where(np.isnan(s), np.nan, (1.0 + below) / (len(ref) + 1.0))


def main_score(columns: dict[str, np.ndarray]) -> str:
    """The column a record's tail probability is taken of: the per-unit score where the
    likelihood has a unit (genotypes: per observed locus), else the record's; IWAE-K's where
    computed (the tighter bound), else the ELBO's."""
    names = [k for k in columns if k.startswith(("elbo", "iwae_"))]
    per = [k for k in names if "_per_" in k]
    pool = per or names
    return next((k for k in pool if k.startswith("iwae_")), pool[0])


def tail_columns(
    columns: dict[str, np.ndarray],
    reference: dict[str, np.ndarray],
    flag_below: float | None = None,
) -> dict[str, np.ndarray]:
    """``tail_<col>``, the conformal p-value (:func:`tail_probabilities`) of each record's
    main score (:func:`main_score`) against the reference records' (``reference``: the score
    table of normal records, scored with the same settings), and with ``flag_below`` α in
    (0, 1) a boolean ``anomaly``: tail ≤ α (a record without a score is not flagged).
    Warns when the reference is too small for small p-values (fewer than 20 records)."""
    check_level(flag_below)
    name = main_score(columns)
    ref = np.asarray(reference[name], dtype=np.float64)
    n_ref = int((~np.isnan(ref)).sum())
    if n_ref == 0:
        raise ConfigError(
            f"the reference has no record with a score in {name}; give normal records with data"
        )
    if n_ref < MIN_REFERENCE:
        warnings.warn(
            f"the reference has {n_ref} scored record(s): the smallest attainable p-value is "
            f"1/{n_ref + 1} = {1 / (n_ref + 1):.3g}; give at least {MIN_REFERENCE} normal "
            "records",
            stacklevel=2,
        )
    tail = tail_probabilities(columns[name], ref)
    out = {f"tail_{name}": tail}
    if flag_below is not None:
        out["anomaly"] = tail <= flag_below  # NaN compares False: not flagged
    return out


def shared_records(ids, reference_ids, reference: str = "the reference") -> str:
    """A note when records of the data scored are also reference records (ids in both), or
    ``""``: such a record is compared with itself, a tie that counts against it, so its tail
    probability is at least 2/(n_ref + 1) — conservative, not invalid, but REF should hold
    other records."""
    shared = np.intersect1d(np.asarray(ids, dtype=str), np.asarray(reference_ids, dtype=str))
    if not len(shared):
        return ""
    return (
        f"{len(shared)} record(s) scored are also in {reference} (e.g. '{shared[0]}'): each "
        "is compared with itself, so its tail probability is at least 2/(n_ref + 1); give "
        "reference records the data does not hold"
    )


def check_level(alpha: float | None) -> None:
    """A one-line error unless the anomaly level ``alpha`` is None or in (0, 1)."""
    if alpha is not None and not 0.0 < alpha < 1.0:  # NaN fails too
        raise ConfigError(
            f"the anomaly level (--flag-below) is {alpha}; give a false-positive rate in "
            "(0, 1), e.g. 0.01"
        )


def expected_false_positive_rate(alpha: float, n_reference: int) -> float:
    """P(p ≤ α) of a normal record exchangeable with ``n_reference`` reference records
    (continuous scores): ⌊α(m + 1)⌋ / (m + 1), at most α."""
    ranks = np.arange(1, n_reference + 2) / (n_reference + 1.0)  # the p-values, equally likely
    return float(np.mean(ranks <= alpha))  # as tail_columns flags: no rounding apart


def qc_frequencies(est: Any, qc: QcLimits) -> dict[str, Any] | None:
    """The training summaries the record QC of ``est``'s likelihood is to use: its schema's,
    when ``qc`` asks for the training frequencies and the model keeps them; else None (the
    QC takes the frequencies of the records scored)."""
    stats = getattr(getattr(est, "schema_", None), "context_stats", None) or {}
    return stats if qc.frequencies == "training" and FREQUENCIES in stats else None


def qc_flags(record_qc: dict[str, np.ndarray], limits: QcLimits) -> np.ndarray:
    """Per record, the QC limits it is past joined by ``;`` (empty when none)."""
    past = {
        "missing": record_qc["missing_rate"] > limits.max_missing,
        "heterozygosity": record_qc["het_f"] < limits.min_het_f,  # NaN F: not flagged
    }
    n = len(record_qc["het_f"])
    return np.array([";".join(k for k, v in past.items() if v[i]) for i in range(n)], object)


def _score_units(likelihood, ds):
    """The likelihood's unit of comparison for scores, each record's count of it and the
    count of a complete record, or None."""
    complete = likelihood.score_units(np.zeros((1, ds.x.shape[1]), np.float32))
    if complete is None:
        return None  # no unit of its own: nothing to read again
    parts = [likelihood.score_units(b) for b in dense_blocks(ds.x)]
    return complete[0], np.concatenate([count for _, count in parts]), int(complete[1][0])


def _rates(est, ds) -> np.ndarray:
    """Each record's rate, the KL(q(z|x) || p(z)) term of its ELBO (0 for an autoencoder)."""
    import torch

    from biovae.objectives import rate_terms

    model, parts = est.model_, [np.zeros(0)]
    if not model.stochastic:
        return np.zeros(len(ds))
    with torch.no_grad():
        for b in est.batches(ds):
            kl_nk, rest = rate_terms(model, b.x, b.c, model.encode(b.x, b.c))
            parts.append((kl_nk.sum(-1) + rest).double().numpy())
    return np.concatenate(parts)
