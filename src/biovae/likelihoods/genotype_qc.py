"""Per-individual genotype QC in the manner of ``plink --het`` and ``--missing``.

For individual i with N_i observed loci, O_i of them homozygous (all P copies one allele),
and allele frequencies p_{la} of the scored records (each observed locus's allele counts over
P × its observed individuals, as ``plink --het`` without ``--read-freq``), the expected
homozygous count under Hardy–Weinberg is E_i = Σ_{observed l} Σ_a p_{la}^P (a dosage column
has the two alleles p and 1 − p), and

    F_i = (O_i − E_i) / (N_i − E_i)

(0: as heterozygous as expected; < 0: more heterozygous calls than expected, as in a sample
that mixes the DNA of two individuals; > 0: fewer, as in inbred or isolated populations, or
allele dropout). The missing rate is 1 − N_i / loci. Frequencies come from the records
scored, so score a cohort: from a handful of individuals they are noisy.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np

Blocks = Callable[[], Iterable[np.ndarray]]


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


def expected_homozygosity(
    blocks: Blocks, first: np.ndarray, ploidy: int, dosage: bool
) -> np.ndarray:
    """Σ_a p_{la}^P per locus from the allele counts of every record in ``blocks()``; NaN
    for a locus observed in no record."""
    counts, calls = 0.0, 0.0
    for b in blocks():
        b = np.asarray(b, dtype=np.float64)
        counts = counts + np.nansum(b, axis=0)
        calls = calls + (~np.isnan(b[:, first])).sum(0)
    sizes = np.diff(np.append(first, len(np.atleast_1d(counts))))
    with np.errstate(invalid="ignore", divide="ignore"):
        freq = counts / (ploidy * np.repeat(calls, sizes))
        if dosage:
            return freq**ploidy + (1 - freq) ** ploidy
        return np.add.reduceat(freq**ploidy, first)


def heterozygosity(
    blocks: Blocks, first: np.ndarray, ploidy: int, dosage: bool
) -> dict[str, np.ndarray]:
    """Per record: observed loci, missing rate, observed and expected heterozygosity (as
    fractions of the observed loci) and F, each a float64 array (NaN where undefined)."""
    e_hom = expected_homozygosity(blocks, first, ploidy, dosage)
    parts = []
    for b in blocks():
        known, hom = zygosity(b, first, ploidy, dosage)
        n = known.sum(1).astype(np.float64)
        o, e = hom.sum(1), (known * np.nan_to_num(e_hom)).sum(1)
        parts.append((n, o, e))
    n, o, e = (np.concatenate([p[i] for p in parts]) for i in range(3))
    per = np.where(n > 0, n, np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        f = np.where(n - e > 0, (o - e) / (n - e), np.nan)
    return {
        "observed_loci": n,
        "missing_rate": 1 - n / len(first),
        "het_observed": 1 - o / per,
        "het_expected": 1 - e / per,
        "het_f": f,
    }
