"""VCF 4.x genotypes (``.vcf``, ``.vcf.gz``, ``.vcf.bgz``) as ALT-allele dosages.

The data set is individuals × variants in the layout of :func:`~biovae.data.plink.read_plink`
(the ``genotype`` likelihood's dosage layout): ids are the sample columns of the ``#CHROM``
line, and x = the number of copies of the ALT allele in the call's GT (``0/1`` → 1, ``1|1`` →
2), NaN when any allele of the call is missing (``./.``, ``./1``, ``.``). Phased (``|``) and
unphased (``/``) calls read alike, and every call counts its own alleles, so haploid calls
(``0``, ``1``; chrX of males, mitochondria) give 0/1 beside diploid 0/1/2 in the same file. The
obs column ``ploidy`` is the most alleles any call of the individual has, among calls with at
least one allele called (0 for an individual without any; a missing ``.`` is no haploid), and
``ploidy_min`` the fewest: set ``likelihood.ploidy`` to it when it is not 2 (``[model.likelihood]
ploidy = 1`` for a haploid file), since the likelihood takes one P for all columns; a fit warns
of individuals that mix calls of fewer alleles with their others (a male's haploid chrX calls
among diploid autosomes), whose shorter calls it reads as fewer copies.

**Multiallelic records** (ALT ``G,T``) are split into one dosage column per ALT allele, each
counting the copies of that allele — what ``bcftools norm -m-`` followed by reading gives, and
PLINK 2's split — so that every column stays a binomial dosage. They are named
``<ID>:<ALT>`` (``CHROM:POS:REF:ALT`` without an ID); a record already split over lines
(biallelic lines repeating one ID at one CHROM and POS) is named the same way. They are
*not* written as ``<locus>.<allele>`` allele-count columns: those are the likelihood's
multinomial layout, whose columns must include REF and sum to the ploidy, and one such locus
would turn every other column of the file into a one-allele locus. For the same reason no
feature name contains a dot: dots (RefSeq contigs such as ``NC_000001.11``, a ``.`` ALT) become
``_``. A record without ALT (``.``) is one column of zeros. Each column's alleles are kept
as ``Dataset.alleles``: (counted ALT, REF), ``.`` unknown.

Feature names are the ID column, or ``CHROM:POS:REF:ALT`` when it is ``.``. The header lines
(``##``) are skipped; FORMAT must start with GT (the VCF specification puts GT first when it
is present). ``.gz`` input (gzip or BGZF) is recognised by its magic bytes. A gVCF (records with the
symbolic ALT ``<NON_REF>`` or ``<*>``: reference blocks and unobserved alleles, not calls) is
refused: joint-genotype it first.
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import numpy as np

from biovae.data._messages import UNREADABLE, unreadable
from biovae.data._text import byte_lines, not_utf8
from biovae.data.dataset import Dataset
from biovae.data.plink import dosage_column_name
from biovae.errors import DataError

_FIXED = ("#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO", "FORMAT")
_TAB, _COLON, _DOT, _SLASH, _PIPE = (ord(c) for c in "\t:./|")
_SEPARATOR = re.compile(r"[/|]")


def read_vcf(path: str | Path) -> Dataset:
    """Read the GT calls of a VCF file (plain, gzip or BGZF) as ALT-allele dosages.

    Parameters
    ----------
    path
        ``.vcf`` or ``.vcf.gz`` file, VCF 4.x.

    Returns
    -------
    Dataset
        ``(n_samples, n_columns)`` float32 dosages, NaN = missing call; one column per
        biallelic record and one per ALT allele of a multiallelic record (see the module
        docstring); obs ``ploidy`` and ``ploidy_min`` per individual.

    Raises
    ------
    DataError
        One line naming the file, the line and the fix, for a missing ``#CHROM`` header, no
        samples or no records, a record with the wrong number of columns, FORMAT without GT
        first, a POS that is not a whole number, a malformed GT, an allele index beyond the
        ALT alleles, repeated sample ids
        or variant names, or a gVCF's ``<NON_REF>``/``<*>`` allele.
    """
    path = Path(path)
    with _open(path) as fh:
        lines = _numbered_lines(fh, path)
        samples = _samples(lines, path)
        rows, names, alleles, ploidy, fewest = _records(lines, path, samples)
    x = np.concatenate(rows).T if rows else np.empty((len(samples), 0), np.float32)
    obs = {"ploidy": ploidy, "ploidy_min": fewest}
    return Dataset(np.ascontiguousarray(x), samples, names, obs, source=str(path), alleles=alleles)


def _open(path: Path) -> BinaryIO:
    """The file as bytes, gunzipped when it starts with the gzip magic bytes (BGZF is gzip)."""
    with open(path, "rb") as fh:
        magic = fh.read(2)
    return gzip.open(path, "rb") if magic == b"\x1f\x8b" else open(path, "rb")


def _samples(lines: Iterator[tuple[int, bytes]], path: Path) -> list[str]:
    """Sample ids of the ``#CHROM`` line (``lines`` is left after it)."""
    lineno = 0
    for lineno, raw in lines:
        if raw.startswith(b"##") or not raw.strip():
            continue
        line = _text(raw, path, lineno)
        if not line.startswith("#CHROM"):
            raise DataError(
                f"{path}: line {lineno}: expected the '#CHROM POS ID ...' header line before "
                "the records; is this a VCF file?"
            )
        columns = line.split("\t")
        if tuple(columns[:9]) != _FIXED[: len(columns)]:
            raise DataError(
                f"{path}: line {lineno}: the #CHROM line starts {' '.join(columns[:9])!r}, "
                f"expected {' '.join(_FIXED)!r} then the sample ids, separated by tabs"
            )
        if len(columns) < 10:
            raise DataError(
                f"{path}: line {lineno}: no samples (the #CHROM line has no sample columns "
                "after FORMAT); a sites-only VCF holds no genotypes, use one with GT calls"
            )
        samples = columns[9:]
        seen: dict[str, int] = {}
        for column, sample in enumerate(samples, start=10):
            if not sample.strip():
                raise DataError(
                    f"{path}: line {lineno}: column {column} of the #CHROM line has no sample "
                    "id (a trailing or doubled tab?); remove the empty column or name its sample"
                )
            if sample in seen:
                raise DataError(
                    f"{path}: line {lineno}: sample id '{sample}' appears in columns "
                    f"{seen[sample]} and {column}; sample ids must be unique (rename one, e.g. "
                    "with bcftools reheader -s)"
                )
            seen[sample] = column
        return samples
    raise DataError(
        f"{path}: no '#CHROM' header line in {lineno} lines; a VCF file needs the "
        "'#CHROM POS ID REF ALT QUAL FILTER INFO FORMAT <samples>' line before its records"
    )


def _records(
    lines: Iterator[tuple[int, bytes]], path: Path, samples: list[str]
) -> tuple[list[np.ndarray], list[str], tuple[tuple[str, str], ...], np.ndarray, np.ndarray]:
    """Dosage rows ``(columns, n)`` of every record, their names and (counted ALT, REF)
    alleles, and per sample the most and the fewest alleles of a called call (0 without
    one)."""
    n = len(samples)
    rows: list[np.ndarray] = []
    names: list[str] = []
    alleles: list[tuple[str, str]] = []
    first_seen: dict[str, int] = {}
    split = _SplitRecords()
    ploidy = np.zeros(n, dtype=np.float64)
    fewest = np.full(n, np.inf)  # the fewest alleles of a called call, per sample
    for lineno, raw in lines:
        line = raw.rstrip(b"\r\n")
        if not line.strip():  # blank lines (also of spaces, as editors leave at the end)
            continue
        where = f"{path}: line {lineno}"
        if line.startswith(b"#"):
            raise DataError(
                f"{where}: a header line after the #CHROM line; the ## lines and one #CHROM "
                "line come before the records"
            )
        fixed, calls = _split(line, n, where)
        _check_position(fixed[1], where)
        alts = [] if fixed[4] == b"." else fixed[4].split(b",")
        _refuse_reference_blocks(alts, where)
        dosage, call_ploidy = _dosages(calls, len(alts), fixed[8] == b"GT", samples, where)
        rows.append(dosage)
        ref = fixed[3].decode("utf-8", "replace")
        alleles += [(a.decode("utf-8", "replace"), ref) for a in alts] or [(".", ref)]
        np.maximum(ploidy, call_ploidy, out=ploidy)
        np.fmin(fewest, np.where(call_ploidy > 0, call_ploidy, np.inf), out=fewest)
        for name in _names(fixed, alts, where):
            name = split.name(name, fixed, alts, names, first_seen)
            if name in first_seen:
                raise DataError(
                    f"{where}: variant name '{name}' repeats line {first_seen[name]}; give the "
                    "records distinct IDs (bcftools annotate --set-id '%CHROM:%POS:%REF:%ALT') "
                    "or drop the duplicate"
                )
            first_seen[name] = lineno
            names.append(name)
    if not rows:
        raise DataError(
            f"{path}: no variant records after the #CHROM line; the VCF holds no genotypes "
            "(was it filtered to nothing?)"
        )
    return rows, names, tuple(alleles), ploidy, np.where(np.isinf(fewest), 0, fewest)


#: the ALT of a gVCF (GATK's <NON_REF>, bcftools' <*>): any allele not seen, not a variant
_UNSEEN = (b"<NON_REF>", b"<*>", b"<X>")


def _refuse_reference_blocks(alts: list[bytes], where: str) -> None:
    """A gVCF's records (reference blocks, ``<NON_REF>`` on every line) are no call set: read,
    every block would be a site of 0/0 calls and every ``<NON_REF>`` a column of zeros."""
    unseen = next((a for a in alts if a in _UNSEEN), None)
    if unseen is not None:
        raise DataError(
            f"{where}: ALT holds the symbolic allele {unseen.decode()}, so this is a gVCF or "
            "an mpileup file (reference blocks, not genotype calls); genotype it first "
            "(gatk GenotypeGVCFs, or bcftools call -mv)"
        )


def _check_position(pos: bytes, where: str) -> None:
    """POS is a whole number (1 = the first base; 0 and N+1 mark telomeres): anything else
    is a damaged record, which would otherwise show only in a ``CHROM:POS:REF:ALT`` name."""
    if not pos.isdigit():  # ASCII digits only, as for bytes
        raise DataError(
            f"{where}: POS '{pos.decode(errors='replace')}' is not a position (a whole number, "
            "1 for the first base of CHROM); correct the record or drop it"
        )


def _numbered_lines(fh: BinaryIO, path: Path) -> Iterator[tuple[int, bytes]]:
    """(line number, line) of the file (a byte-order mark dropped, CR line ends split:
    :func:`~biovae.data._text.byte_lines`), with a broken gzip stream as a one-line error."""
    try:
        yield from enumerate(byte_lines(fh), start=1)
    except UNREADABLE as exc:
        raise unreadable(path, exc, "the file") from exc


def _text(raw: bytes, path: Path, lineno: int) -> str:
    try:
        return raw.decode("utf-8").rstrip("\r\n")
    except UnicodeDecodeError as exc:
        raise not_utf8(path, "the VCF file", line=lineno) from exc


def _split(line: bytes, n: int, where: str) -> tuple[list[bytes], bytes]:
    """The nine fixed fields and the sample fields (still joined by tabs) of a record."""
    fields = line.split(b"\t", 9)
    found = len(fields) if len(fields) < 10 else 10 + fields[9].count(b"\t")
    if found != 9 + n:
        raise DataError(
            f"{where} has {found} tab-separated columns, expected {9 + n} (9 fixed columns and "
            f"{n} samples as in the #CHROM line); check for a truncated line or spaces "
            "instead of tabs"
        )
    fmt = fields[8]
    if not (fmt == b"GT" or fmt.startswith(b"GT:")):
        raise DataError(
            f"{where}: FORMAT '{fmt.decode(errors='replace')}' does not start with GT; every "
            "record needs GT calls, first in FORMAT as the VCF specification requires (drop "
            "records without GT, or export the genotypes with GT)"
        )
    return fields[:9], fields[9]


class _SplitRecords:
    """Biallelic records that repeat an ID at the same CHROM and POS are one multiallelic
    record split over lines (``bcftools norm -m-``): their columns are named ``<ID>:<ALT>``, as
    this reader names the columns of a record it splits itself (the first line's column is
    renamed when the second comes)."""

    def __init__(self) -> None:
        self.site: dict[str, tuple[bytes, bytes, bytes]] = {}  # name → CHROM, POS, ALT
        self.split: set[str] = set()

    def name(self, name: str, fixed, alts, names: list[str], lines: dict[str, int]) -> str:
        """``name`` for this record's column, renaming an earlier column of the same site."""
        if len(alts) != 1 or fixed[2] == b".":
            return name
        site = self.site.setdefault(name, (fixed[0], fixed[1], alts[0]))
        if site[:2] != (fixed[0], fixed[1]):
            return name  # another variant with the ID: refused as a repeat
        if name in self.split:
            return _alt_name(fixed[2], alts[0])  # a repeated allele collides: refused
        if site[2] == alts[0]:
            return name  # the same line again: refused as a repeat
        first = _alt_name(fixed[2], site[2])  # the site's first line, named by its ID alone
        names[names.index(name)] = first
        lines[first] = lines[name]  # the bare ID stays taken
        self.split.add(name)
        return _alt_name(fixed[2], alts[0])


def _alt_name(vid: bytes, alt: bytes) -> str:
    return dosage_column_name(f"{vid.decode('utf-8', 'replace')}:{alt.decode('utf-8', 'replace')}")


def _names(fixed: list[bytes], alts: list[bytes], where: str) -> list[str]:
    """One feature name per dosage column: ID (``ID:ALT`` when multiallelic), else
    ``CHROM:POS:REF:ALT``; dots become ``_`` (see the module docstring)."""
    try:
        chrom, pos, vid, ref = (f.decode("utf-8") for f in fixed[:4])
        alleles = [a.decode("utf-8") for a in alts] or ["."]
    except UnicodeDecodeError as exc:
        raise DataError(f"{where}: CHROM, POS, ID, REF or ALT is not UTF-8 text") from exc
    if vid != "." and len(alleles) == 1:
        names = [vid]
    elif vid != ".":
        names = [f"{vid}:{alt}" for alt in alleles]
    else:
        names = [f"{chrom}:{pos}:{ref}:{alt}" for alt in alleles]
    return [dosage_column_name(name) for name in names]


def _dosages(
    calls: bytes, n_alt: int, only_gt: bool, samples: list[str], where: str
) -> tuple[np.ndarray, np.ndarray]:
    """``(max(n_alt, 1), n)`` ALT copies (NaN = missing) and the ploidy of each call.

    The fast path decodes all GT strings of the record at once when every allele index is a
    single digit (``0/1``, ``1|0|1``, ``.``); anything else goes to :func:`_parse_calls`.
    """
    buf = np.frombuffer(calls, dtype=np.uint8)
    tabs = np.flatnonzero(buf == _TAB)
    starts = np.concatenate(([0], tabs + 1))
    if only_gt:
        lengths = np.append(tabs, len(buf)) - starts
    else:
        stops = np.append(np.flatnonzero((buf == _TAB) | (buf == _COLON)), len(buf))
        lengths = stops[np.searchsorted(stops, starts)] - starts
    parsed = _single_digit_alleles(buf, starts, lengths)
    if parsed is None:
        parsed = _parse_calls(buf, starts, lengths, samples, where)
    return _count(*parsed, len(starts), n_alt, samples, where)


def _single_digit_alleles(
    buf: np.ndarray, starts: np.ndarray, lengths: np.ndarray
) -> tuple[np.ndarray, np.ndarray] | None:
    """Allele indices (-1 = missing) and their call numbers when every call is
    ``d[/|]d...`` with one-digit alleles, else None."""
    if lengths.min() < 1 or not (lengths % 2).all():
        return None
    n, width = len(starts), int(lengths[0])
    if (lengths == width).all():  # one ploidy in the record: a (calls, width) block
        chars = buf[starts[:, None] + np.arange(width)]
        allele_chars, separators = chars[:, ::2].ravel(), chars[:, 1::2]
        owner = np.repeat(np.arange(n), (width + 1) // 2)
    else:
        first = np.cumsum(lengths) - lengths
        offset = np.arange(int(lengths.sum())) - np.repeat(first, lengths)
        chars = buf[np.repeat(starts, lengths) + offset]
        even = offset % 2 == 0
        allele_chars, separators = chars[even], chars[~even]
        owner = np.repeat(np.arange(n), (lengths + 1) // 2)
    digit = allele_chars - np.uint8(ord("0"))  # wraps below '0' to large values
    is_digit = digit <= 9
    if not (is_digit | (allele_chars == _DOT)).all():
        return None
    if not ((separators == _SLASH) | (separators == _PIPE)).all():
        return None
    return np.where(is_digit, digit.astype(np.intp), -1), owner


def _parse_calls(
    buf: np.ndarray, starts: np.ndarray, lengths: np.ndarray, samples: list[str], where: str
) -> tuple[np.ndarray, np.ndarray]:
    """Allele indices (-1 = missing) and their call numbers, one GT string at a time."""
    alleles: list[int] = []
    owner: list[int] = []
    for i, (start, length) in enumerate(zip(starts.tolist(), lengths.tolist(), strict=True)):
        gt = buf[start : start + length].tobytes().decode("utf-8", errors="replace")
        for token in _SEPARATOR.split(gt.lstrip("/|")):  # VCF 4.4 allows a leading phase mark
            if token == ".":
                alleles.append(-1)
            elif token.isdigit() and token.isascii():
                alleles.append(int(token))
            else:
                raise DataError(
                    f"{where}: sample '{samples[i]}' has GT '{gt}' with allele '{token}', which "
                    "is not an integer; GT alleles are 0 (REF), 1, 2, ... (ALT) or '.' (missing), "
                    "separated by / or |"
                )
            owner.append(i)
    return np.asarray(alleles, dtype=np.intp), np.asarray(owner, dtype=np.intp)


def _count(
    alleles: np.ndarray, owner: np.ndarray, n: int, n_alt: int, samples: list[str], where: str
) -> tuple[np.ndarray, np.ndarray]:
    """Copies of each ALT allele per call, NaN where any allele is missing; the ploidy."""
    beyond = alleles > n_alt
    if beyond.any():
        k = int(np.argmax(beyond))
        raise DataError(
            f"{where}: sample '{samples[owner[k]]}' has allele index {alleles[k]} but the "
            f"record has {n_alt} ALT allele(s); GT indices must be 0..{n_alt} (fix the ALT "
            "column or the call)"
        )
    width = n_alt + 1
    counts = np.bincount(owner * width + np.maximum(alleles, 0), minlength=n * width)
    dosage = counts.reshape(n, width)[:, 1:].astype(np.float32)
    if n_alt == 0:  # no ALT allele: zero copies of it
        dosage = np.zeros((n, 1), dtype=np.float32)
    missing = np.bincount(owner[alleles < 0], minlength=n) > 0
    dosage[missing] = np.nan
    # a call with no allele called ('.', './.') says nothing of the ploidy: a '.' is no haploid
    called = np.bincount(owner[alleles >= 0], minlength=n) > 0
    ploidy = np.where(called, np.bincount(owner, minlength=n), 0)
    return dosage.T, ploidy.astype(np.float64)
