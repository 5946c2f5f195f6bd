"""Genotypes: allele counts of a diploid (or any ``ploidy``) individual at each locus.

Two layouts, set by ``LikelihoodConfig.loci``:

* **allele-count table** (``loci`` = number of allele columns of each locus, in column order,
  e.g. microsatellites with many alleles): at locus l the counts c_{l·} of its A_l alleles sum
  to the ploidy P and follow a multinomial,
  log p(c_l | z) = log P! − Σ_a log c_{la}! + Σ_a c_{la} log π_{la}(z), π_l = softmax over the
  locus's columns;
* **dosage table** (``loci = ()``, e.g. SNPs coded 0/1/2 copies of the alternative allele):
  each column is a biallelic locus, x ~ Binomial(P, sigmoid(logit)).

**Missing data**: a missing genotype is NaN (an empty field with ``--allow-missing``), for a
whole locus at once; it contributes nothing to log p(x|z) (the likelihood of the observed part,
missing at random), and the encoder sees it as zero counts. In an allele-count table no observed
locus has those (its counts sum to P); in a dosage table 0 is a real genotype (homozygous
reference), so there the encoder also sees one indicator per column, 1 where the call is
observed (``LikelihoodConfig.missing_indicators``, set by a fit for dosage tables).
``validate`` refuses values outside 0..P, non-integers, locus sums other than
P and partly missing loci. :meth:`Genotype.configure` reads the loci from feature names
``<locus>.<allele>`` (adegenet's ``genind`` tables, e.g. ``loc-1.125``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor
from torch.distributions import Distribution, constraints

from biovae.config import LikelihoodConfig
from biovae.errors import ConfigError
from biovae.likelihoods.base import BadEntry, Likelihood, dense_blocks, one_hot
from biovae.likelihoods.genotype_qc import FREQUENCIES, allele_frequencies, heterozygosity


class Genotype(Likelihood):
    name = "genotype"
    features_text = "allele counts, a missing genotype as zeros"
    allows_missing = True
    integer_data = True

    def __init__(
        self, data_shape: tuple[int, ...], config: LikelihoodConfig, n_letters: int = 0
    ) -> None:
        super().__init__(data_shape, config, n_letters)
        if len(self.data_shape) != 1:
            raise ConfigError("the genotype likelihood needs a table (individuals x columns)")
        sizes = config.loci or (1,) * self.n_features
        if sum(sizes) != self.n_features:
            raise ConfigError(
                f"likelihood.loci covers {sum(sizes)} columns but the data have "
                f"{self.n_features}; give one allele count per column of each locus"
            )
        self.sizes = tuple(int(s) for s in sizes)
        self.ploidy = int(config.ploidy)
        self.dosage = not config.loci
        self.indicators = bool(config.missing_indicators)  # unset (an older model): off
        counts = torch.tensor(self.sizes)
        self.locus = torch.repeat_interleave(torch.arange(len(self.sizes)), counts)  # per column
        self.first = torch.cumsum(counts, 0) - counts  # first column of each locus

    @classmethod
    def configure(cls, config: LikelihoodConfig, features: Sequence[str]) -> LikelihoodConfig:
        """Loci from ``<locus>.<allele>`` feature names when ``config.loci`` is not given and
        some locus has several allele columns (else every column is a dosage); missing-call
        indicators for the encoder, unless set, on for dosage tables only."""
        config = cls._loci(config, features)
        if config.missing_indicators is None:
            config = replace(config, missing_indicators=not config.loci)
        return config

    @classmethod
    def _loci(cls, config: LikelihoodConfig, features: Sequence[str]) -> LikelihoodConfig:
        if config.loci:
            return config
        names = [f.rsplit(".", 1)[0] if "." in f else f for f in features]
        sizes, seen = [], {}
        for i, name in enumerate(names):
            if i and name == names[i - 1]:
                sizes[-1] += 1
                continue
            if name in seen:  # a locus split in two places
                if max(sizes, default=1) == 1 and "." not in features[i]:
                    return config  # repeated dosage names: no allele-count layout
                raise ConfigError(
                    f"the allele columns of locus {name!r} are apart (columns {seen[name] + 1} "
                    f"and {i + 1}); put each locus's <locus>.<allele> columns side by side, "
                    "or name SNP dosage columns without a dot"
                )
            seen[name] = i
            sizes.append(1)
        return replace(config, loci=tuple(sizes)) if max(sizes, default=1) > 1 else config

    def outputs(self) -> dict[str, tuple[int, ...]]:
        return {"logits": self.data_shape}

    def distribution(self, params: dict[str, Tensor], context: dict[str, Tensor]) -> Distribution:
        return GenotypeCounts(params["logits"], self)

    @property
    def n_inputs(self) -> int:
        return self.n_features * (2 if self.indicators else 1)

    def featurize(self, x: Tensor) -> Tensor:
        """Allele counts, missing as 0; with indicators, then 1 per observed call."""
        x = x.flatten(1).float()
        counts = torch.nan_to_num(x, nan=0.0)
        return torch.cat([counts, (~torch.isnan(x)).float()], 1) if self.indicators else counts

    def defeaturize(self, x_nf: Tensor) -> Tensor:
        return x_nf[:, : self.n_features].round().clamp(0, self.ploidy)

    def expected(self, dist: Distribution) -> Tensor:
        return dist.mean

    def validate(self, x: np.ndarray) -> BadEntry | None:
        x = np.asarray(x.toarray() if hasattr(x, "toarray") else x, dtype=np.float64)
        known = ~np.isnan(x)
        bad = known & ((x < 0) | (x > self.ploidy) | (x != np.round(x)))
        if bad.any():
            r, c = np.argwhere(bad)[0]
            most = np.nanmax(np.where(bad, x, np.nan))
            polyploid = (
                _set_ploidy(f"up to {most:.0f} copies", most)
                if most > self.ploidy and most == np.round(most)
                else ""
            )
            return BadEntry(
                int(r),
                int(c),
                f"is not an allele count in 0..{self.ploidy}",
                "give allele copies per individual (dosages 0..ploidy), empty for missing"
                + _recode(float(x[r, c]))
                + polyploid,
            )
        if self.dosage:
            return None
        starts = self.first.numpy()
        n_known = np.add.reduceat(known, starts, axis=1)
        sums = np.add.reduceat(np.where(known, x, 0.0), starts, axis=1)
        partial = (n_known > 0) & (n_known < np.asarray(self.sizes))
        wrong = (n_known == np.asarray(self.sizes)) & (sums != self.ploidy)
        if not (partial.any() or wrong.any()):
            return None
        r, locus = np.argwhere(partial | wrong)[0]  # the first bad locus, row by row
        full = sums[n_known == np.asarray(self.sizes)]
        other = full[0] if len(full) and (full == full[0]).all() and full[0] >= 1 else 0
        return BadEntry(
            int(r),
            int(starts[locus]),
            "is in a partly missing locus"
            if partial[r, locus]
            else "is in a locus whose counts do not sum to the ploidy "
            f"(they sum to {sums[r, locus]:g})",
            f"each locus's allele counts must sum to {self.ploidy} or all be missing "
            "(columns form loci by their <locus>.<allele> names; for SNP dosages use "
            "names without a dot, e.g. rs ids)"
            # every observed locus sums to one other number: the data's ploidy, e.g. haploid
            + (_set_ploidy(f"{other:g}-ploid data", other) if other else ""),
        )

    def score_units(self, x: np.ndarray) -> tuple[str, np.ndarray]:
        """Observed loci per record: an individual with missing loci has fewer terms in its
        log-likelihood, so its log-likelihood per observed locus (less the KL per locus of a
        complete record) is the anomaly score that compares."""
        known = ~np.isnan(np.asarray(x, dtype=np.float64))
        return "locus", np.add.reduceat(known, self.first.numpy(), axis=1).astype(bool).sum(1)

    def context_stats(self, x, batch: np.ndarray | None = None) -> dict[str, Any]:
        """The training records' allele frequencies, one per column (null at a locus no
        record observed), for the QC of records scored later (``plink --read-freq``)."""
        freq = allele_frequencies(lambda: dense_blocks(x), self.first.numpy(), self.ploidy)
        return {FREQUENCIES: [None if math.isnan(f) else float(f) for f in np.atleast_1d(freq)]}

    def record_qc(self, blocks, stats: Mapping[str, Any] | None = None) -> dict[str, np.ndarray]:
        """Observed loci, missing rate, observed and expected heterozygosity and the ``plink
        --het`` F of each record (:mod:`biovae.likelihoods.genotype_qc`), with the training
        allele frequencies in ``stats`` (:meth:`context_stats`), else (none there: a model saved
        before they were kept, or ``stats`` None) those of the records in ``blocks``."""
        freq = (stats or {}).get(FREQUENCIES)
        if freq is not None:
            freq = np.asarray(freq, dtype=np.float64)  # null (JSON) -> NaN
            if freq.shape != (self.n_features,):
                raise ConfigError(
                    f"the model's {FREQUENCIES} hold {freq.size} values for "
                    f"{self.n_features} columns; the model folder is damaged: refit the model"
                )
        return heterozygosity(blocks, self.first.numpy(), self.ploidy, self.dosage, freq)

    def caveat(self, obs: Mapping[str, np.ndarray]) -> str | None:
        """Individuals whose every call has fewer alleles than the ploidy (obs ``ploidy`` of a
        VCF): their 0/1 dosages would be read as a P-ploid's, a haploid ALT as a heterozygote;
        or, with obs ``ploidy_min``, some of whose calls have (a male's chrX)."""
        called, fewest = _numbers(obs, "ploidy"), _numbers(obs, "ploidy_min")
        if called is None:
            return None
        fewer = (called > 0) & (called < self.ploidy)
        if not fewer.any():
            return None if fewest is None else self._mixed(called, fewest)
        k, n = int(fewer.sum()), int((called > 0).sum())
        lowest = int(called[fewer].min())
        return (
            f"{k} of {n} individuals have at most {lowest} allele(s) in every call (obs "
            f"'ploidy'), but the genotype likelihood counts {self.ploidy} per individual; "
            + (
                f"for a {lowest}-ploid data set set likelihood.ploidy = {lowest}"
                if k == n
                else f"their calls are read as {self.ploidy}-ploid dosages (an ALT call as a "
                "heterozygote; e.g. chrX of males): fit them apart if that matters"
            )
        )

    def _mixed(self, most: np.ndarray, fewest: np.ndarray) -> str | None:
        """Individuals with the full ploidy in some calls and fewer alleles in others."""
        mixed = (fewest > 0) & (fewest < most)
        if not mixed.any():
            return None
        return (
            f"{int(mixed.sum())} of {int((most > 0).sum())} individuals mix calls of "
            f"{int(fewest[mixed].min())} and {self.ploidy} alleles (obs 'ploidy_min' and "
            "'ploidy'; e.g. a male's haploid chrX among diploid autosomes): a shorter call is "
            f"read as fewer of {self.ploidy} copies (a haploid ALT as a heterozygote), not as a "
            "hemizygous genotype; fit the sex chromosomes apart (bcftools view -t ^X,Y,MT for "
            "the autosomes)"
        )


def _recode(value: float) -> str:
    """How to recode one value that is not an allele count, as a clause of a fix: a
    fractional one is an imputed dosage, a negative one a missing-call code."""
    if value < 0:
        return (
            " (a missing-call code such as -9 or -1 must be an empty field, or NaN in "
            ".h5ad/.npy, read with --allow-missing)"
        )
    if value != np.round(value):
        return (
            " (a fractional value is an imputed dosage: hard-call it to a whole count, e.g. "
            "round it, or leave it empty as missing)"
        )
    return ""


def _set_ploidy(what: str, ploidy: float) -> str:
    """The setting that fits data of another ploidy, as a clause of a fix."""
    return (
        f"; for {what} set ploidy = {ploidy:.0f} under [model.likelihood] in a --config "
        "file (likelihood.ploidy)"
    )


def _numbers(obs: Mapping[str, np.ndarray], key: str) -> np.ndarray | None:
    """``obs[key]`` as float64, or None when absent or not numeric."""
    if key not in obs:
        return None
    try:
        return np.asarray(obs[key], dtype=np.float64)
    except (TypeError, ValueError):
        return None


class GenotypeCounts(Distribution):
    """Independent loci: multinomials over each locus's allele columns (or binomial dosages),
    batch shape ``(..., n)``, event shape ``(F,)``; NaN entries (missing loci) score 0."""

    arg_constraints: ClassVar[dict] = {}
    support = constraints.real

    def __init__(self, logits: Tensor, lik: Genotype) -> None:
        self.logits, self.lik = logits, lik
        super().__init__(logits.shape[:-1], logits.shape[-1:], validate_args=False)

    def _log_probs(self) -> Tensor:
        """log π per column (within its locus)."""
        if self.lik.dosage:
            return F.logsigmoid(self.logits)
        locus = self.lik.locus.to(self.logits.device)
        peak = self.logits.new_full(
            (*self.logits.shape[:-1], len(self.lik.sizes)), -math.inf
        ).scatter_reduce(-1, locus.expand_as(self.logits), self.logits.detach(), "amax")
        shifted = self.logits - peak.index_select(-1, locus)
        total = torch.zeros_like(peak).index_add(-1, locus, shifted.exp())
        return shifted - total.log().index_select(-1, locus)

    def log_prob(self, x: Tensor) -> Tensor:
        known = ~torch.isnan(x)
        c = torch.nan_to_num(x, nan=0.0)
        p = float(self.lik.ploidy)
        if self.lik.dosage:
            terms = c * F.logsigmoid(self.logits) + (p - c) * F.logsigmoid(-self.logits)
            terms = terms + math.lgamma(p + 1) - torch.lgamma(c + 1) - torch.lgamma(p - c + 1)
            return (terms * known).sum(-1)
        terms = (c * self._log_probs() - torch.lgamma(c + 1)) * known
        n_loci = known.index_select(-1, self.lik.first.to(x.device)).sum(-1).to(terms.dtype)
        return terms.sum(-1) + n_loci * math.lgamma(p + 1)

    @property
    def mean(self) -> Tensor:
        if self.lik.dosage:
            return self.lik.ploidy * torch.sigmoid(self.logits)
        return self.lik.ploidy * self._log_probs().exp()

    def sample(self, sample_shape: torch.Size = torch.Size()) -> Tensor:
        with torch.no_grad():
            shape = (*sample_shape, *self.logits.shape)
            if self.lik.dosage:
                probs = torch.sigmoid(self.logits).expand(shape)
                # the count on the probabilities' dtype and device (torch.binomial needs both)
                return torch.binomial(torch.full_like(probs, float(self.lik.ploidy)), probs)
            probs = self._log_probs().exp().expand(shape)
            return _locus_draws(probs, self.lik)


def _locus_draws(probs: Tensor, lik: Genotype) -> Tensor:
    """``ploidy`` allele draws per locus from per-column probabilities, as counts."""
    flat = probs.reshape(-1, probs.shape[-1])
    out = torch.zeros_like(flat)
    start = 0
    for size in lik.sizes:
        block = flat[:, start : start + size]
        picks = torch.multinomial(block.clamp_min(0) + 1e-12, lik.ploidy, replacement=True)
        out[:, start : start + size] = one_hot(picks, size, out.dtype).sum(1)
        start += size
    return out.reshape(probs.shape)
