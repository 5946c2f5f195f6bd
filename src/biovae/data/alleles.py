"""Whether genotype dosages count the same allele as a model's at every variant.

A dosage is the number of copies of one allele of each variant: PLINK's A1 (``.bim`` column
5), a VCF's ALT. ``plink --make-bed`` makes A1 the minor allele of each fileset anew, so a new
cohort's fileset often counts the other allele at some variants; its dosages there are 2 − the
model's and every score of it is wrong. Readers keep each variant's (counted, other) alleles
(:attr:`~biovae.data.dataset.Dataset.alleles`), models save them, and new data is refused
when they disagree: a swapped pair (A/G read as G/A), or another allele altogether (A/G as
A/T: another strand or another variant at the site).
"""

from __future__ import annotations

import re

from biovae.data.dataset import Dataset
from biovae.errors import DataError

Alleles = tuple[tuple[str, str], ...]

#: allele codes that say the allele is not known (PLINK's 0 of a monomorphic variant, VCF's .)
UNKNOWN = frozenset({"0", ".", ""})


def check_alleles(ds: Dataset, alleles: Alleles, what: str = "the model") -> None:
    """Raise a one-line DataError when ``ds`` counts another allele than ``alleles`` (a
    model's (counted, other) pair per feature) at any variant, or has other alleles there.
    Skipped when either side has no alleles (tables, models saved before they were kept)."""
    if not ds.alleles or not alleles or ds.alleles == alleles or len(ds.alleles) != len(alleles):
        return
    bad = [j for j, (ours, theirs) in enumerate(zip(ds.alleles, alleles)) if _differ(ours, theirs)]
    if not bad:
        return
    j, where = bad[0], ds.source or "data"
    (fc, fo), (mc, mo) = ds.alleles[j], alleles[j]
    other = sum(not _swapped(ds.alleles[k], alleles[k]) for k in bad)
    counts = f"{len(bad)} of {len(alleles)} variants " + (
        f"differ: {len(bad) - other} swapped, {other} with other alleles"
        if other
        else f"count the other allele of {what}'s pair"
    )
    raise DataError(
        f"{where}: variant '{ds.features[j]}' counts {fc} of alleles {fc}/{fo} where {what} "
        f"counts {mc} of {mc}/{mo} ({counts}); {_fix(where, what, other)}"
    )


def _differ(ours: tuple[str, str], theirs: tuple[str, str]) -> bool:
    """Whether two (counted, other) pairs disagree, an unknown allele agreeing with any: the
    counted alleles differ (or one side counts the other's other allele), or the other
    alleles differ."""
    (fc, fo), (mc, mo) = map(_norm, ours), map(_norm, theirs)
    if _known(fc) and _known(mc):
        counted = fc != mc
    else:  # e.g. a variant monomorphic in training: A1 0, A2 G
        counted = (_known(fc) and fc == mo) or (_known(mc) and mc == fo)
    return counted or (_known(fo) and _known(mo) and fo != mo)


def _swapped(ours: tuple[str, str], theirs: tuple[str, str]) -> bool:
    """Whether ``ours`` counts ``theirs``'s other allele and, where known, the reverse."""
    (fc, fo), (mc, mo) = map(_norm, ours), map(_norm, theirs)
    return _known(fc) and fc == mo and (fo == mc or not _known(fo) or not _known(mc))


def _known(allele: str) -> bool:
    return allele not in UNKNOWN


def _norm(allele: str) -> str:
    return allele.strip().upper()  # VCF bases are case-insensitive


def _fix(where: str, what: str, other: int) -> str:
    """How to make the file count ``what``'s alleles (PLINK 1.9's ``--a1-allele FILE [A1
    column] [ID column]`` sets A1 from a file of variant ids and alleles)."""
    path = where.split(" (metadata ")[0]  # a file with an --obs table joined
    stem = re.sub(r"(\.bed|\.vcf(\.b?gz)?)$", "", path, flags=re.IGNORECASE)
    if stem == path:  # not a PLINK or VCF file: an array or table of dosages
        recode = f"give dosages of {what}'s counted alleles (2 − dosage where the pair is swapped)"
    else:
        source = f"--bfile {stem}" if path.lower().endswith(".bed") else f"--vcf {path}"
        recode = (
            f"make the file count {what}'s alleles, e.g. plink {source} --a1-allele TRAIN.bim "
            f"5 2 --make-bed --out {stem}_aligned (TRAIN.bim: the .bim of the training fileset, "
            "or a file of each variant's id and counted allele, from schema.features and "
            "schema.alleles in the model's metadata.json, given as --a1-allele FILE 2 1)"
        )
    if other:
        return (
            "other alleles are another strand or another variant at the site: flip strands "
            f"(plink --flip) or use data of {what}'s variants, then {recode}"
        )
    return recode
