"""PLINK 1 binary genotypes (``.bed`` + ``.bim`` + ``.fam``) as allele dosages.

The ``.bed`` file holds, after the magic bytes ``6c 1b 01`` (SNP-major), one block of
⌈n/4⌉ bytes per variant; each byte holds four individuals, two bits each from the low bits up:
``00`` = two copies of allele A1 (``.bim`` column 5), ``10`` = one, ``11`` = none, ``01`` =
missing. The data set is individuals × variants, x = number of A1 copies (0, 1, 2; NaN when
missing) — the ``--recode A`` convention of PLINK 1.9 — for the ``genotype`` likelihood's
dosage layout. Ids are the ``.fam`` individual ids (IID), or ``FID_IID`` when IIDs repeat
across families; ``FID``, ``sex`` and ``phenotype`` become metadata (a case/control phenotype
as ``control``/``case``, a quantitative one as numbers; ``-9``, and ``0`` of case/control, are
missing, as in PLINK); feature names are the
``.bim`` variant ids, or ``CHROM:POS:A2:A1`` (counted allele last) where the id is ``.``, with
dots made ``_`` as in :mod:`biovae.data.vcf` (a dotted name would read as a ``<locus>.<allele>``
allele-count column to the ``genotype`` likelihood). Each variant's alleles are kept as
``Dataset.alleles`` (counted A1, other A2; ``0`` unknown): a model saves them and refuses a
fileset that counts the other allele (``plink --make-bed`` makes A1 the minor allele of each
fileset anew).

The ``.fam`` and ``.bim`` line counts must fit the ``.bed`` size (3 + m·⌈n/4⌉ bytes); a
``.fam`` short by one to three lines fits that size, but then its missing individuals'
genotypes sit in the last byte's unused slots, which PLINK writes as zeros: an error too. A
``.fam`` longer by as many reads the zero padding as individuals with two A1 copies at every
variant; the reader warns of such trailing individuals (from 10 variants on).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from biovae.data._text import ENCODING, not_utf8
from biovae.data.dataset import Dataset
from biovae.errors import DataError

MAGIC = bytes([0x6C, 0x1B, 0x01])
#: A1 copies for the two-bit codes 00, 01, 10, 11
_DOSAGE = np.array([2.0, np.nan, 1.0, 0.0], dtype=np.float32)
#: fewest variants at which an individual homozygous for A1 at all of them is suspect
_PADDING_WARN_VARIANTS = 10
_LAYOUT = {
    ".fam": "FID IID father mother sex phenotype",
    ".bim": "chromosome id cM position A1 A2",
}


def read_plink(path: str | Path) -> Dataset:
    """Read ``prefix.bed`` (``path``) with ``prefix.bim`` and ``prefix.fam`` beside it."""
    bed = Path(path)
    bim, fam = bed.with_suffix(".bim"), bed.with_suffix(".fam")
    for companion in (bim, fam):
        if not companion.is_file():
            raise DataError(
                f"{bed}: {companion.name} not found beside it; PLINK input is .bed + .bim + .fam"
            )
    individuals, _ = _fields(fam, 6)
    variants, bim_lines = _fields(bim, 6)
    n, m = len(individuals), len(variants)
    if n == 0 or m == 0:
        raise DataError(f"{bed}: no individuals ({fam.name}) or no variants ({bim.name})")
    names = _variant_names(variants, bim, bim_lines)
    packed = _packed(bed, n, names)
    codes = (packed[:, :, None] >> np.array([0, 2, 4, 6], dtype=np.uint8)) & 3
    x = _DOSAGE[codes.reshape(m, packed.shape[1] * 4)[:, :n]].T
    _warn_padding_read_as_individuals(bed, x)
    obs = {
        "FID": np.asarray([f[0] for f in individuals], dtype=object),
        "sex": np.asarray(
            [{"1": "male", "2": "female"}.get(f[4], "") for f in individuals], dtype=object
        ),
        "phenotype": _phenotype([f[5] for f in individuals]),
    }
    ids = _individual_ids(individuals, fam)
    alleles = tuple((f[4], f[5]) for f in variants)
    return Dataset(np.ascontiguousarray(x), ids, names, obs, source=str(bed), alleles=alleles)


def _individual_ids(individuals: list[list[str]], fam: Path) -> list[str]:
    """The IIDs, or ``FID_IID`` where IIDs repeat (they are unique within a family only); an
    id that still repeats (one individual listed twice, or FID ``a_b`` IID ``c`` beside FID
    ``a`` IID ``b_c``) is an error naming both ``.fam`` lines."""
    ids = [f[1] for f in individuals]
    if len(set(ids)) < len(ids):
        ids = [f"{f[0]}_{f[1]}" for f in individuals]
    seen: dict[str, int] = {}
    for line, (rid, (fid, iid, *_)) in enumerate(zip(ids, individuals, strict=True), start=1):
        if rid in seen:
            fid0, iid0 = individuals[seen[rid] - 1][:2]
            same = (fid0, iid0) == (fid, iid)
            raise DataError(
                f"{fam}: lines {seen[rid]} (FID '{fid0}', IID '{iid0}') and {line} (FID "
                f"'{fid}', IID '{iid}') "
                + ("list the same individual" if same else f"both read as record id '{rid}'")
                + " (IIDs repeat, so each record is named FID_IID); give each individual its "
                "own IID in the .fam's second column (keep the lines in order)"
            )
        seen[rid] = line
    return ids


def _packed(bed: Path, n: int, names: list[str]) -> np.ndarray:
    """The ``(m, ⌈n/4⌉)`` genotype bytes of the ``.bed``, checked against the n individuals
    of the ``.fam`` and the m variants (``names``) of the ``.bim``: by the file size, and, as
    a ``.fam`` short by one to three lines still fits the size, by the unused two-bit slots
    after the n-th individual of each variant, which PLINK writes as zeros."""
    raw, m = bed.read_bytes(), len(names)
    if raw[:3] != MAGIC:
        raise DataError(
            f"{bed}: not a SNP-major PLINK 1 .bed file (magic bytes {raw[:3].hex()}, expected "
            "6c1b01); convert it with plink --make-bed"
        )
    per_variant, found = -(-n // 4), len(raw) - 3
    if found != per_variant * m:
        fits = (
            f" ({found // m} per variant: {4 * (found // m) - 3} to {4 * (found // m)} individuals)"
            if found % m == 0 and found
            else ""
        )
        raise DataError(
            f"{bed}: {found} genotype bytes{fits}, but the {m} variants of "
            f"{bed.with_suffix('.bim').name} × {n} individuals of {bed.with_suffix('.fam').name} "
            f"need {per_variant * m}; the .bed, .bim and .fam files do not belong together"
        )
    packed = np.frombuffer(raw, dtype=np.uint8, offset=3).reshape(m, per_variant)
    used = n % 4  # individuals in the last byte of each variant; 0: the byte is full
    stray = packed[:, -1] & np.uint8((0xFF << 2 * used) & 0xFF)
    if used and stray.any():
        first = names[int(np.argmax(stray != 0))]
        raise DataError(
            f"{bed}: {np.count_nonzero(stray)} of {m} variants (the first '{first}') hold "
            f"genotypes after the {n} individuals of {bed.with_suffix('.fam').name}, so the .fam "
            "lists fewer individuals than the .bed holds and its ids may be shifted; use the "
            ".fam written with this .bed"
        )
    return packed


def _warn_padding_read_as_individuals(bed: Path, x: np.ndarray) -> None:
    """Warn when the last individuals of the ``.fam`` could be the zero padding of a ``.bed``
    that holds fewer (the size check cannot tell within one byte): padding reads as two A1
    copies at every variant, which a real individual of many variants hardly is."""
    n, m = x.shape
    first_possible = 4 * ((n - 1) // 4) + 1  # the .bed holds at least this many individuals
    tail = (x[first_possible:] == 2).all(axis=1)  # read as padding would be
    real = np.flatnonzero(~tail)
    k = len(tail) - (int(real[-1]) + 1 if real.size else 0)  # trailing padding-like ones
    if m < _PADDING_WARN_VARIANTS or not k:
        return
    warnings.warn(
        f"{bed}: the last {k} individual(s) of {bed.with_suffix('.fam').name} have two copies "
        f"of A1 at all {m} variants, as the zero padding of a .bed holding {n - k} individuals "
        "reads; check that the .fam belongs to this .bed",
        stacklevel=3,
    )


def _phenotype(values: list[str]) -> np.ndarray:
    """The ``.fam`` phenotype as PLINK reads it: ``-9`` and non-numbers are missing; when every
    other value is 0, 1 or 2 it is case/control (``1`` control, ``2`` case, ``0`` missing) and
    becomes the text ``control``/``case`` (``""`` missing), else a quantitative trait (float,
    NaN missing)."""
    numbers = np.array([_number(v) for v in values], dtype=np.float64)
    numbers[numbers == -9] = np.nan
    known = numbers[~np.isnan(numbers)]
    if np.isin(known, (0.0, 1.0, 2.0)).all():
        labels = {1.0: "control", 2.0: "case"}
        return np.asarray([labels.get(v, "") for v in numbers], dtype=object)
    return numbers


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return np.nan


def dosage_column_name(name: str) -> str:
    """A variant's name as a dosage column: dots become ``_``, since the ``genotype``
    likelihood reads ``<locus>.<allele>`` names as allele-count columns of one locus."""
    return name.replace(".", "_")


def _variant_names(variants: list[list[str]], bim: Path, lines: list[int]) -> list[str]:
    """One dosage column name per ``.bim`` line (``lines``: their line numbers); a position
    that is not a whole number and repeated names are errors."""
    names, seen = [], {}
    for line, (chrom, vid, _, pos, a1, a2, *_) in zip(lines, variants, strict=True):
        if not (pos.removeprefix("-").isdigit() and pos.isascii()):  # PLINK 1: -N = excluded
            raise DataError(
                f"{bim}: line {line}: position '{pos}' (column 4) is not a whole number; "
                "correct it (the base-pair coordinate, 0 if unknown)"
            )
        name = dosage_column_name(vid if vid != "." else f"{chrom}:{pos}:{a2}:{a1}")
        if name in seen:
            raise DataError(
                f"{bim}: lines {seen[name]} and {line} name the same variant '{name}'; give "
                "each variant its own id (plink --set-missing-var-ids @:#:$1:$2)"
            )
        seen[name] = line
        names.append(name)
    return names


def _fields(path: Path, count: int) -> tuple[list[list[str]], list[int]]:
    """The whitespace-separated fields of each non-blank line, and the lines' numbers."""
    try:
        text = path.read_text(encoding=ENCODING)  # a byte-order mark: not part of a FID
    except UnicodeDecodeError as exc:
        raise not_utf8(path) from exc
    except OSError as exc:
        raise DataError(f"{path}: not a readable PLINK text file ({exc}); check the file") from exc
    rows, lines = [], []  # the line numbers of the rows, blank lines skipped
    for i, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            rows.append(line.split())
            lines.append(i)
    for i, row in zip(lines, rows, strict=True):
        if len(row) < count:
            raise DataError(
                f"{path}: line {i} has {len(row)} fields, expected {count} "
                f"({_LAYOUT[path.suffix.lower()]}, separated by spaces or tabs); fix the line "
                "or rewrite the fileset with plink --make-bed"
            )
    return rows, lines
