"""Sample and variant selection of genotype inputs, as PLINK's ``keep``/``remove`` and
``extract``/``exclude`` options select them: the one home for reading the id files and
subsetting a PLINK fileset or VCF as it is read.

A sample file holds one sample per line: one id (the record id biovae gives the sample: the
``.fam`` IID, ``FID_IID`` where IIDs repeat, or the VCF sample id), or PLINK's ``FID IID``
(further columns are ignored, as ``cut -f1,2 data.fam`` or a ``.fam`` itself gives them).
A ``FID IID`` pair names the ``.fam`` individual with that FID and IID (its record ``IID`` or
``FID_IID``), never one of another family; a VCF has no FIDs, so the pair names the sample
``FID_IID`` (PLINK's ``--id-delim`` split) if there is one, else the sample ``IID`` (any FID:
``--double-id``, ``--const-fid``, a population label). A PLINK 2 header line, the first
``#FID``/``#IID`` line before any id (a ``.psam``'s), says what the columns are: after
``#IID`` the first column is the IID (one id) and the others are ignored; after
``#FID IID`` each line is a pair. Other ``#`` lines are comments.

A variant file holds variant ids separated by spaces, tabs or lines, as biovae names the
dosage columns or with the dots biovae makes ``_`` (``.bim`` ids); a ``.bim`` file gives its
second column. The id of a multiallelic VCF record names all its ``<ID>:<ALT>`` columns, as
it names the one variant in PLINK 2. ``.`` (PLINK 2's missing id) names nothing. Lines
starting with ``#`` are headers or comments. Ids that name nothing in the data are ignored
and counted (PLINK does the same); a selection that leaves no sample or no variant is an
error. Variants are selected by id only: PLINK's positional ``range``/``bed1`` files are not
read.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from pathlib import Path

import numpy as np

from biovae.data._messages import preview
from biovae.data._text import ENCODING, not_utf8
from biovae.data.dataset import Dataset
from biovae.data.plink import dosage_column_name
from biovae.errors import DataError, MissingFileError

#: the formats whose records are samples and whose features are variants
GENOTYPE_FORMATS = ("plink", "vcf")


@dataclass(frozen=True)
class GenotypeSelection:
    """Paths of id files: samples to keep or remove, variants to extract or exclude."""

    keep: str | None = None
    remove: str | None = None
    extract: str | None = None
    exclude: str | None = None

    def __bool__(self) -> bool:
        return any(getattr(self, f.name) for f in fields(self))

    def check_format(self, path: Path, fmt: str) -> None:
        """Refuse a selection of a file that is not a PLINK fileset or VCF."""
        given = [f"--{f.name}" for f in fields(self) if getattr(self, f.name)]
        if given and fmt not in GENOTYPE_FORMATS:
            raise DataError(
                f"{path}: {'/'.join(given)} select samples and variants of PLINK (.bed) and "
                f"VCF genotype files, not of {fmt} files; remove the option"
            )


def select_genotypes(
    ds: Dataset, selection: GenotypeSelection, note: Callable[[str], None] | None = None
) -> Dataset:
    """``ds`` with the samples and variants of ``selection``; ``note`` (default: print on
    stderr) gets one line saying how many were kept and how many ids of each file name
    nothing in the data."""
    rows, notes = _selected(len(ds), selection, ("keep", "remove"), ds, _sample_matches)
    cols, more = _selected(ds.n_features, selection, ("extract", "exclude"), ds, _variant_matches)
    notes += more
    _refuse_empty(ds, selection, int(rows.sum()), int(cols.sum()))
    kept = ds.subset(np.flatnonzero(rows)) if not rows.all() else ds
    if not cols.all():
        features = tuple(f for f, c in zip(ds.features, cols, strict=True) if c)
        alleles = tuple(a for a, c in zip(ds.alleles, cols, strict=True) if c) if ds.alleles else ()
        kept = replace(
            kept, x=np.ascontiguousarray(kept.x[:, cols]), features=features, alleles=alleles
        )
    line = (
        f"{ds.source}: kept {rows.sum()} of {len(ds)} samples and {cols.sum()} of "
        f"{ds.n_features} variants" + (f" ({'; '.join(notes)})" if notes else "")
    )
    (note or _stderr)(line)
    return kept


def _stderr(line: str) -> None:
    print(line, file=sys.stderr)


def _ignored(unknown: list[str]) -> str:
    return f"{len(unknown)} id(s) not in the data, ignored (e.g. {preview(unknown, 3)})"


def _selected(
    n: int,
    selection: GenotypeSelection,
    names: tuple[str, str],
    ds: Dataset,
    matches: Callable[[Dataset, Path], tuple[np.ndarray, list[str]]],
) -> tuple[np.ndarray, list[str]]:
    """The mask over ``n`` records or variants that the files of ``names`` (one that keeps,
    one that leaves out) select by ``matches``, and a note for each file naming ids not in
    the data."""
    mask, notes = np.ones(n, dtype=bool), []
    for name, inside in zip(names, (True, False), strict=True):
        path = getattr(selection, name)
        if path:
            hit, unknown = matches(ds, Path(path))
            mask &= hit if inside else ~hit
            notes += [f"--{name} {path}: {_ignored(unknown)}"] * bool(unknown)
    return mask, notes


def _given(selection: GenotypeSelection, names: tuple[str, ...]) -> str:
    return " and ".join(f"--{n} {getattr(selection, n)}" for n in names if getattr(selection, n))


def _refuse_empty(ds: Dataset, selection: GenotypeSelection, rows: int, cols: int) -> None:
    if not rows:
        raise DataError(
            f"{ds.source}: {_given(selection, ('keep', 'remove'))} leave(s) no sample of the "
            f"{len(ds)} (sample ids such as {preview(ds.ids, 3)}, or FID IID pairs); check the "
            "id file"
        )
    if not cols:
        raise DataError(
            f"{ds.source}: {_given(selection, ('extract', 'exclude'))} leave(s) no variant of "
            f"the {ds.n_features} (variant ids such as {preview(ds.features, 3)}); check the "
            "id file"
        )


def _sample_matches(ds: Dataset, path: Path) -> tuple[np.ndarray, list[str]]:
    """Which records the sample file names, and its entries that name no record."""
    ids = [str(i) for i in ds.ids]
    index = {rid: i for i, rid in enumerate(ids)}
    fid = ds.obs.get("FID")  # a PLINK fileset's families; a VCF has none
    hit = np.zeros(len(ds), dtype=bool)
    unknown = []
    iid_only, lines = _sample_lines(path)
    for fields_ in lines:
        if iid_only or len(fields_) == 1:
            i = index.get(fields_[0])
        else:
            i = _pair(fields_[0], fields_[1], index, fid)
        if i is None:
            unknown.append(fields_[0] if iid_only else " ".join(fields_[:2]))
        else:
            hit[i] = True
    return hit, unknown


def _pair(family: str, iid: str, index: dict[str, int], fid) -> int | None:
    """The record of a ``FID IID`` line: with FIDs (PLINK), the record ``IID`` or ``FID_IID``
    of family ``FID``; without (VCF), the sample ``FID_IID``, else the sample ``IID``."""
    candidates = [index.get(iid), index.get(f"{family}_{iid}")]
    if fid is None:
        candidates.reverse()
    for i in candidates:
        if i is not None and (fid is None or str(fid[i]) == family):
            return i
    return None


def _sample_lines(path: Path) -> tuple[bool, list[list[str]]]:
    """Whether a PLINK 2 ``#IID`` header says the first column is the IID, and the fields
    of the id lines; a ``#FID`` header must go on with ``IID``."""
    rows = _lines(path, comments=True)
    header = None
    for row in rows:  # PLINK 2: the header is the first #FID/#IID line before any id
        if row[0][0] != "#" or row[0] in ("#FID", "#IID"):
            header = row if row[0][0] == "#" else None
            break
    if header and header[0] == "#FID" and header[1:2] != ["IID"]:
        raise DataError(
            f"{path}: the header line '{' '.join(header)}' has no IID column; start it "
            "'#FID IID' (pairs) or '#IID' (one id per line)"
        )
    return bool(header) and header[0] == "#IID", [row for row in rows if row[0][0] != "#"]


def _variant_matches(ds: Dataset, path: Path) -> tuple[np.ndarray, list[str]]:
    """Which variants the variant file names, and its ids that name no variant."""
    index = {name: [j] for j, name in enumerate(ds.features)}
    for record, columns in _split_records(ds).items():
        index.setdefault(record, columns)
    bim = path.name.lower().endswith(".bim")
    hit = np.zeros(ds.n_features, dtype=bool)
    unknown = []
    for fields_ in _lines(path):
        for vid in [_bim_name(fields_)] if bim else fields_:
            found = index.get(vid, index.get(dosage_column_name(vid), []))
            if vid == "." or not found:  # '.': PLINK 2's missing id, never matched
                unknown.append(vid)
            else:
                hit[found] = True
    return hit, unknown


def _split_records(ds: Dataset) -> dict[str, list[int]]:
    """The columns of each multiallelic record split into ``<ID>:<ALT>`` columns, by ID:
    two or more columns whose names are an ID, ``:`` and the column's counted allele."""
    groups: dict[str, list[int]] = {}
    for j, (name, alleles) in enumerate(zip(ds.features, ds.alleles, strict=False)):
        suffix = ":" + dosage_column_name(alleles[0])
        if name.endswith(suffix) and len(name) > len(suffix):
            groups.setdefault(name[: -len(suffix)], []).append(j)
    return {record: columns for record, columns in groups.items() if len(columns) > 1}


def _bim_name(fields_: list[str]) -> str:
    """A ``.bim`` line's variant as :func:`~biovae.data.plink.read_plink` names it."""
    if len(fields_) < 6 or fields_[1] != ".":
        return fields_[1] if len(fields_) > 1 else fields_[0]
    chrom, _, _, pos, a1, a2 = fields_[:6]
    return f"{chrom}:{pos}:{a2}:{a1}"


def _lines(path: Path, comments: bool = False) -> list[list[str]]:
    """The whitespace-separated fields of each line that is not blank nor (unless
    ``comments``) a ``#`` line."""
    if not path.exists():
        raise MissingFileError(
            f"{path}: id file not found; check the path (working directory: {Path.cwd()}; a "
            "model reads its --extract/--exclude file again: give the file anew if it moved)"
        )
    try:
        text = path.read_text(encoding=ENCODING)
    except UnicodeDecodeError as exc:
        raise not_utf8(path) from exc
    rows = [line.split() for line in text.splitlines() if line.strip()]
    return [row for row in rows if comments or row[0][0] != "#"]
