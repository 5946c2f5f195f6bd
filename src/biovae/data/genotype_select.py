"""Sample and variant selection of genotype inputs, as PLINK's ``keep``/``remove`` and
``extract``/``exclude`` options select them: the one home for reading the id files and
subsetting a PLINK fileset or VCF as it is read.

A sample file holds one sample per line: one id (the record id biovae gives the sample: the
``.fam`` IID, ``FID_IID`` where IIDs repeat, or the VCF sample id), or PLINK's ``FID IID``
(further columns are ignored, as ``cut -f1,2 data.fam`` or a ``.fam`` itself gives them),
which names the record ``FID_IID``, or the record ``IID`` whose ``.fam`` FID is ``FID`` (any
FID for a VCF, which has none). A variant file holds variant ids separated by spaces, tabs
or lines, as biovae names the dosage columns or with the dots biovae makes ``_`` (``.bim``
ids); a ``.bim`` file gives its second column. Lines starting with ``#`` are headers or
comments. Ids that name nothing in the data are ignored and counted (PLINK does the same);
a selection that leaves no sample or no variant is an error.
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
    for fields_ in _lines(path):
        found = [index.get(fields_[0])] if len(fields_) == 1 else _pair(fields_, index, fid)
        found = [i for i in found if i is not None]
        hit[found] = True
        if not found:
            unknown.append(" ".join(fields_[:2]))
    return hit, unknown


def _pair(fields_: list[str], index: dict[str, int], fid) -> list[int | None]:
    """The record of a ``FID IID`` line: named ``FID_IID``, or ``IID`` with that FID."""
    family, iid = fields_[:2]
    i = index.get(iid)
    if i is not None and fid is not None and str(fid[i]) != family:
        i = None
    return [index.get(f"{family}_{iid}"), i]


def _variant_matches(ds: Dataset, path: Path) -> tuple[np.ndarray, list[str]]:
    """Which variants the variant file names, and its ids that name no variant."""
    index = {name: j for j, name in enumerate(ds.features)}
    bim = path.name.lower().endswith(".bim")
    hit = np.zeros(ds.n_features, dtype=bool)
    unknown = []
    for fields_ in _lines(path):
        for vid in [_bim_name(fields_)] if bim else fields_:
            j = index.get(vid, index.get(dosage_column_name(vid)))
            if j is None:
                unknown.append(vid)
            else:
                hit[j] = True
    return hit, unknown


def _bim_name(fields_: list[str]) -> str:
    """A ``.bim`` line's variant as :func:`~biovae.data.plink.read_plink` names it."""
    if len(fields_) < 6 or fields_[1] != ".":
        return fields_[1] if len(fields_) > 1 else fields_[0]
    chrom, _, _, pos, a1, a2 = fields_[:6]
    return f"{chrom}:{pos}:{a2}:{a1}"


def _lines(path: Path) -> list[list[str]]:
    """The whitespace-separated fields of each line that is not blank nor a ``#`` line."""
    if not path.exists():
        raise MissingFileError(
            f"{path}: id file not found; check the path (working directory: {Path.cwd()}; a "
            "model reads its --extract/--exclude file again: give the file anew if it moved)"
        )
    try:
        text = path.read_text(encoding=ENCODING)
    except UnicodeDecodeError as exc:
        raise not_utf8(path) from exc
    return [line.split() for line in text.splitlines() if line.strip() and line[0] != "#"]
