"""Per-individual genotype QC in the manner of ``plink --het`` and ``--missing``.

For individual i with N_i observed loci, O_i of them homozygous (all P copies one allele),
and allele frequencies p_{la}, the expected homozygous count under Hardy–Weinberg is
E_i = Σ_{observed l} Σ_a p_{la}^P (a dosage column has the two alleles p and 1 − p), and

    F_i = (O_i − E_i) / (N_i − E_i)

(0: as heterozygous as expected; < 0: more heterozygous calls than expected, as in a sample
that mixes the DNA of two individuals; > 0: fewer, as in inbred or isolated populations, or
allele dropout). The missing rate is 1 − N_i / loci.

The frequencies p_{la} (:func:`allele_frequencies`: each locus's allele counts over P × its
observed individuals) are, as with ``plink --read-freq``, those of the training data when
given (a genotype model keeps them, :data:`FREQUENCIES`), else those of the records scored
(``plink --het`` alone), which are noisy for a handful of records and meaningless for one.
With training frequencies, an allele the training records never carried has p = 0: a
homozygote for it counts in O_i but adds nothing to E_i; a locus observed in no training
record has no frequencies and is left out of N_i, O_i and E_i (not of the missing rate).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np

Blocks = Callable[[], Iterable[np.ndarray]]

#: the key of a genotype model's training allele frequencies in its schema's context_stats
#: (metadata.json): one per column, null at a locus observed in no training record
FREQUENCIES = "allele_frequencies"


def zygosity(
    x: np.ndarray, first: np.ndarray, ploidy: int, dosage: bool
) -> tuple[np.ndarray, np.ndarray]:
    """``(known, homozygous)``, boolean ``(n, loci)``: whether each locus is observed, and
    whether all its P copies are one allele (a dosage 0 or P)."""
    x = np.asarray(x, dtype=np.float64)
    known = ~np.isnan(x[:, first])
    c = np.nan_to_num(x)
    if dosage:
        return known, known & ((c == 0) | (c == ploidy))
    return known, known & (np.maximum.reduceat(c, first, axis=1) == ploidy)


def allele_frequencies(blocks: Blocks, first: np.ndarray, ploidy: int) -> np.ndarray:
    """Per column, its allele's frequency among the observed calls of the records in
    ``blocks()`` (float64; NaN at a locus observed in no record)."""
    counts, calls = 0.0, 0.0
    for b in blocks():
        b = np.asarray(b, dtype=np.float64)
        counts = counts + np.nansum(b, axis=0)
        calls = calls + (~np.isnan(b[:, first])).sum(0)
    sizes = np.diff(np.append(first, len(np.atleast_1d(counts))))
    with np.errstate(invalid="ignore", divide="ignore"):
        return counts / (ploidy * np.repeat(calls, sizes))


def expected_homozygosity(
    freq: np.ndarray, first: np.ndarray, ploidy: int, dosage: bool
) -> np.ndarray:
    """Σ_a p_{la}^P per locus from the per-column frequencies ``freq``; NaN for a locus
    without them."""
    if dosage:
        return freq**ploidy + (1 - freq) ** ploidy
    return np.add.reduceat(freq**ploidy, first)


def heterozygosity(
    blocks: Blocks,
    first: np.ndarray,
    ploidy: int,
    dosage: bool,
    freq: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Per record: observed loci, missing rate, observed and expected heterozygosity (as
    fractions of the loci with frequencies observed) and F, each a float64 array (NaN where
    undefined); ``freq``: per-column allele frequencies (default: those of ``blocks()``)."""
    if freq is None:
        freq = allele_frequencies(blocks, first, ploidy)
    e_hom = expected_homozygosity(np.asarray(freq, dtype=np.float64), first, ploidy, dosage)
    usable = ~np.isnan(e_hom)
    parts = []
    for b in blocks():
        known, hom = zygosity(b, first, ploidy, dosage)
        counted = known & usable
        o, e = (hom & usable).sum(1), (counted * np.nan_to_num(e_hom)).sum(1)
        parts.append((known.sum(1), counted.sum(1).astype(np.float64), o, e))
    observed, n, o, e = (np.concatenate([p[i] for p in parts]) for i in range(4))
    per = np.where(n > 0, n, np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        f = np.where(n - e > 0, (o - e) / (n - e), np.nan)
    return {
        "observed_loci": observed.astype(np.float64),
        "missing_rate": 1 - observed / len(first),
        "het_observed": 1 - o / per,
        "het_expected": 1 - e / per,
        "het_f": f,
    }
