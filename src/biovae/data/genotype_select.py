"""Sample and variant selection of genotype inputs, as PLINK's ``keep``/``remove`` and
``extract``/``exclude`` options select them: the one home for reading the id files and
subsetting a PLINK fileset or VCF as it is read.

A sample file holds one sample per line: one id (the record id biovae gives the sample: the
``.fam`` IID, ``FID_IID`` where IIDs repeat, or the VCF sample id; where records are
``FID_IID``, the IID alone too), or PLINK's ``FID IID`` (further columns are ignored, as
``cut -f1,2 data.fam`` or a ``.fam`` itself gives them). One id naming individuals of several
families (an IID that repeats) is an error: PLINK 2 would read it as FID ``0`` and PLINK 1.9
refuses one-column files, so give pairs. A ``FID IID`` pair names the ``.fam`` individual
with that FID and IID (its record ``IID`` or ``FID_IID``), never one of another family; a
pair that names two records of the family (IIDs ``I`` and ``F_I`` in family ``F``) is an
error: give the record id alone. A VCF has no FIDs, so the pair names the sample ``FID_IID``
(PLINK's ``--id-delim`` split) if there is one, else the sample ``IID`` (any FID:
``--double-id``, ``--const-fid``, a population label). A PLINK 2 header line, the first
``#FID``/``#IID`` line before any id (a ``.psam``'s), says what the columns are: after
``#IID`` the first column is the IID (one id) and the others are ignored; after
``#FID IID`` each line is a pair (a line of one id is an error). Other ``#`` lines are
comments.

A variant file holds variant ids separated by spaces, tabs or lines, as biovae names the
dosage columns or with the dots biovae makes ``_`` (``.bim`` ids); a ``.bim`` file gives its
second column. The id of a multiallelic VCF record names all its ``<ID>:<ALT>`` columns, as
it names the one variant in PLINK 2; a multiallelic record without ID, whose columns are
``CHROM:POS:REF:ALT``, is named likewise by ``CHROM:POS:REF``. ``.`` (PLINK 2's missing id)
names nothing. Lines
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
    """Which records the sample file names, and its entries that name no record; an entry
    that names two or more records is an error."""
    ids = [str(i) for i in ds.ids]
    index = {rid: i for i, rid in enumerate(ids)}
    fid = ds.obs.get("FID")  # a PLINK fileset's families; a VCF has none
    by_iid = _records_by_iid(ids, fid)
    hit = np.zeros(len(ds), dtype=bool)
    unknown = []
    iid_only, lines = _sample_lines(path)
    for lineno, fields_ in lines:
        one = iid_only or len(fields_) == 1
        entry = fields_[0] if one else " ".join(fields_[:2])
        if one:
            found = sorted({index.get(entry, -1), *by_iid.get(entry, [])} - {-1})
        else:
            found = _pair(fields_[0], fields_[1], index, fid)
        if len(found) > 1:
            raise _ambiguous(path, lineno, entry, [ids[i] for i in found], fid, one)
        if found:
            hit[found[0]] = True
        else:
            unknown.append(entry)
    return hit, unknown


def _records_by_iid(ids: list[str], fid) -> dict[str, list[int]]:
    """The records of each IID where PLINK's records are named ``FID_IID`` (IIDs repeat);
    ``{}`` where the record ids are the IIDs themselves (or a VCF's sample ids)."""
    if fid is None:
        return {}
    prefixes = [f"{f}_" for f in fid]
    if not all(rid.startswith(p) for rid, p in zip(ids, prefixes, strict=True)):
        return {}
    iids = [rid[len(p) :] for rid, p in zip(ids, prefixes, strict=True)]
    if len(set(iids)) == len(iids):  # unique IIDs: the records are named by them
        return {}
    groups: dict[str, list[int]] = {}
    for i, iid in enumerate(iids):
        groups.setdefault(iid, []).append(i)
    return groups


def _pair(family: str, iid: str, index: dict[str, int], fid) -> list[int]:
    """The records a ``FID IID`` line may name: with FIDs (PLINK), the records ``IID`` and
    ``FID_IID`` of family ``FID``; without (VCF), the sample ``FID_IID``, else the sample
    ``IID``."""
    candidates = [index.get(iid), index.get(f"{family}_{iid}")]
    if fid is None:
        return [i for i in reversed(candidates) if i is not None][:1]
    return [i for i in dict.fromkeys(candidates) if i is not None and str(fid[i]) == family]


def _ambiguous(path: Path, lineno: int, entry: str, records: list[str], fid, one: bool):
    """The error for a line that names several records: which, and the id that names one."""
    if one:
        return DataError(
            f"{path}: line {lineno}: the IID '{entry}' names {len(records)} individuals of "
            f"different families (records {preview(records, 4)}); give the FID IID pair of "
            "the one meant (e.g. a .fam's first two columns)"
        )
    return DataError(
        f"{path}: line {lineno}: '{entry}' names two individuals of family "
        f"'{entry.split()[0]}' (records {preview(records, 4)}); give the record id of the "
        "one meant alone on the line"
    )


def _sample_lines(path: Path) -> tuple[bool, list[tuple[int, list[str]]]]:
    """Whether a PLINK 2 ``#IID`` header says the first column is the IID, and the line
    numbers and fields of the id lines; a ``#FID`` header must go on with ``IID``, and its
    lines are pairs."""
    rows = _lines(path, comments=True)
    header = None
    for _, row in rows:  # PLINK 2: the header is the first #FID/#IID line before any id
        if row[0][0] != "#" or row[0] in ("#FID", "#IID"):
            header = row if row[0][0] == "#" else None
            break
    if header and header[0] == "#FID" and header[1:2] != ["IID"]:
        raise DataError(
            f"{path}: the header line '{' '.join(header)}' has no IID column; start it "
            "'#FID IID' (pairs) or '#IID' (one id per line)"
        )
    lines = [(n, row) for n, row in rows if row[0][0] != "#"]
    if header and header[0] == "#FID":
        for n, row in lines:
            if len(row) == 1:
                raise DataError(
                    f"{path}: line {n}: one id '{row[0]}', but the header '#FID IID' says "
                    "each line is a FID IID pair; give the line its FID, or start the file "
                    "'#IID' (one id per line)"
                )
    return bool(header) and header[0] == "#IID", lines


def _variant_matches(ds: Dataset, path: Path) -> tuple[np.ndarray, list[str]]:
    """Which variants the variant file names, and its ids that name no variant."""
    index = {name: [j] for j, name in enumerate(ds.features)}
    for record, columns in _split_records(ds).items():
        index.setdefault(record, columns)
    bim = path.name.lower().endswith(".bim")
    hit = np.zeros(ds.n_features, dtype=bool)
    unknown = []
    for _, fields_ in _lines(path):
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


def _lines(path: Path, comments: bool = False) -> list[tuple[int, list[str]]]:
    """The line number and whitespace-separated fields of each line that is not blank nor
    (unless ``comments``) a ``#`` line."""
    if not path.exists():
        raise MissingFileError(
            f"{path}: id file not found; check the path (working directory: {Path.cwd()}; a "
            "model reads its --extract/--exclude file again: give the file anew if it moved)"
        )
    try:
        text = path.read_text(encoding=ENCODING)
    except UnicodeDecodeError as exc:
        raise not_utf8(path) from exc
    rows = [(n, line.split()) for n, line in enumerate(text.splitlines(), 1) if line.strip()]
    return [(n, row) for n, row in rows if comments or row[0][0] != "#"]
