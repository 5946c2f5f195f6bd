"""``read_dataset``: pick the reader for a file, apply it and join an optional metadata table."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from biovae.data import sequences
from biovae.data._id_mismatch import id_mismatch_fix
from biovae.data._messages import preview
from biovae.data.biom import read_biom
from biovae.data.dataset import Dataset
from biovae.data.fasta import read_fasta
from biovae.data.genotype_files import plink_prefix_bed, refuse_unread_genotype_format
from biovae.data.genotype_select import GenotypeSelection, select_genotypes
from biovae.data.h5ad import read_h5ad
from biovae.data.npy import read_npy
from biovae.data.plink import read_plink
from biovae.data.sequence_table import read_sequence_table
from biovae.data.tables import obs_id_name, read_obs_table, read_table
from biovae.data.tenx import read_10x_h5, read_10x_mtx
from biovae.data.vcf import read_vcf
from biovae.errors import DataError, MissingFileError

FORMATS = ("csv", "tsv", "npy", "h5ad", "fasta", "10x-mtx", "10x-h5", "biom", "plink", "vcf")
_FASTA_EXTENSIONS = (".fa", ".fasta", ".fna", ".faa", ".a2m", ".afa", ".aln")
#: alignment formats only ``biovae variants fit`` reads (applications/variants/alignment.py)
_VARIANTS_ONLY = (".a3m", ".sto", ".stk", ".stockholm")
_EXTENSIONS: dict[str, str] = {
    ".csv": "csv",
    ".csv.gz": "csv",
    ".tsv": "tsv",
    ".tsv.gz": "tsv",
    ".txt": "tsv",
    ".txt.gz": "tsv",
    ".npy": "npy",
    ".h5ad": "h5ad",
    ".h5": "10x-h5",
    ".biom": "biom",
    ".biom.gz": "biom",  # gzipped JSON BIOM (biom-format reads it)
    ".bed": "plink",
    ".vcf": "vcf",
    ".vcf.gz": "vcf",
    ".vcf.bgz": "vcf",  # gnomAD's name for BGZF VCF files
    **{ext: "fasta" for ext in _FASTA_EXTENSIONS},
    **{f"{ext}.gz": "fasta" for ext in _FASTA_EXTENSIONS},
}


def read_dataset(
    path: str | os.PathLike,
    *,
    fmt: str | None = None,
    id_column: str | None = None,
    metadata_columns: Sequence[str] = (),
    sequence_column: str | None = None,
    layer: str | None = None,
    transpose: bool = False,
    obs_path: str | None = None,
    obs_id_column: str | None = None,
    drop_invalid: bool = False,
    stream: bool = False,
    allow_missing: bool = False,
    alphabet: str | None = None,
    select: GenotypeSelection | None = None,
    note: Callable[[str], None] | None = None,
) -> Dataset:
    """Read a data file into a :class:`Dataset`.

    Parameters
    ----------
    path
        The file: CSV/TSV (optionally ``.gz``), ``.npy``, ``.h5ad``, FASTA/A2M (optionally
        ``.gz``), a 10x Cell Ranger ``.h5`` matrix, a 10x ``matrix.mtx`` folder, or a BIOM
        table (``.biom``, JSON or HDF5; needs the ``microbiome`` extra), PLINK 1 genotypes
        (``.bed`` with ``.bim`` and ``.fam`` beside it, or the fileset's prefix: A1 dosages,
        NaN = missing), or VCF genotypes (``.vcf``, ``.vcf.gz``: ALT dosages from GT, NaN =
        missing call; see :mod:`biovae.data.vcf`).
    fmt
        One of ``"csv", "tsv", "npy", "h5ad", "fasta", "10x-mtx", "10x-h5", "biom", "plink",
        "vcf"``; inferred from the extension (a folder is ``10x-mtx``) if omitted.
    id_column
        Column (tables) or obs column (h5ad) holding record ids.
    metadata_columns
        Columns to keep as metadata (``obs``) rather than features; with ``transpose``,
        columns annotating the features (``taxonomy``), left out.
    sequence_column
        Tables only: the column holding sequences; the result is then a sequence data set.
    layer
        h5ad only: read this layer instead of ``X``.
    transpose
        Tables only: the table is features x samples.
    obs_path
        Extra metadata table joined on record id; its columns replace same-named ``obs``
        columns. Every record must appear in it; extra rows are ignored, and so are rows
        whose id starts with ``#`` (comments; QIIME 2's ``#q2:types`` row types columns).
    obs_id_column
        Id column of ``obs_path`` (default: its first column).
    drop_invalid
        Sequences only: skip records with letters outside the alphabet instead of raising.
    alphabet
        Sequences only: ``"dna"``, ``"rna"`` or ``"protein"`` instead of the detected one
        (e.g. a protein family whose letters are all nucleotide codes).
    stream
        h5ad, npy and 10x h5 only: leave the matrix on disk (a
        :class:`~biovae.data.ondisk.RowStore`, read in blocks) for data larger than memory.
    allow_missing
        Tables: empty fields are missing values (NaN), for the genotype likelihood; ``.h5ad``
        and ``.npy``: their NaN entries are (else refused). VCF and PLINK files always read
        missing calls as NaN; the option is accepted there and implied.
    select
        PLINK/VCF: samples to keep/remove, variants to extract/exclude (see
        :mod:`biovae.data.genotype_select`); ``note`` gets the line saying what was kept.

    Returns
    -------
    Dataset

    Raises
    ------
    DataError
        With a one-line message for any missing, empty or malformed input.
    """
    path = Path(path)
    fmt = _resolve_format(path, fmt)
    if fmt == "plink":
        path = plink_prefix_bed(path) or path  # a fileset's prefix, as plink --bfile takes it
    if fmt == "10x-mtx":
        _check_directory(path)
    else:
        _check_file(path)
    opts = ReadOptions(
        id_column=id_column,
        metadata_columns=_names(metadata_columns),
        sequence_column=sequence_column,
        layer=layer,
        transpose=transpose,
        drop_invalid=drop_invalid,
        stream=stream,
        allow_missing=allow_missing,
        alphabet=alphabet,
    )
    _check_options(path, fmt, opts)
    (select or GenotypeSelection()).check_format(path, fmt)
    ds = _read(path, fmt, opts)
    if select:
        ds = select_genotypes(ds, select, note)
    if obs_path is not None:
        ds = join_obs(ds, obs_path, id_column=obs_id_column)
    return ds


@dataclass(frozen=True)
class ReadOptions:
    """Reader options of :func:`read_dataset` (each applies to some formats only)."""

    id_column: str | None = None
    metadata_columns: tuple[str, ...] = ()
    sequence_column: str | None = None
    layer: str | None = None
    transpose: bool = False
    drop_invalid: bool = False
    stream: bool = False
    allow_missing: bool = False
    alphabet: str | None = None


#: formats whose matrix can stay on disk (``stream``)
STREAMABLE = ("h5ad", "npy", "10x-h5")

#: Which formats each option applies to; a misplaced option is refused, never ignored.
OPTION_FORMATS = {
    "layer": ("h5ad",),
    "transpose": ("csv", "tsv"),
    "sequence_column": ("csv", "tsv"),
    "metadata_columns": ("csv", "tsv", "h5ad"),
    "id_column": ("csv", "tsv", "h5ad"),
    "drop_invalid": ("fasta", "csv", "tsv"),
    "stream": STREAMABLE,
    "allow_missing": ("csv", "tsv", "h5ad", "npy", "vcf", "plink"),
    "alphabet": ("fasta", "csv", "tsv"),
}


def _read(path: Path, fmt: str, opts: ReadOptions) -> Dataset:
    """Call the reader for ``fmt`` with the options it understands."""
    if fmt == "fasta":
        letters = sequences.named_alphabet(opts.alphabet)
        return read_fasta(path, drop_invalid=opts.drop_invalid, alphabet=letters)
    if fmt == "npy":
        return read_npy(path, stream=opts.stream, allow_missing=opts.allow_missing)
    if fmt == "10x-mtx":
        return read_10x_mtx(path)
    if fmt == "10x-h5":
        return read_10x_h5(path, stream=opts.stream)
    if fmt == "biom":
        return read_biom(path)
    if fmt == "plink":
        return read_plink(path)
    if fmt == "vcf":
        return read_vcf(path)
    if fmt == "h5ad":
        return read_h5ad(
            path,
            layer=opts.layer,
            id_column=opts.id_column,
            metadata_columns=opts.metadata_columns,
            stream=opts.stream,
            allow_missing=opts.allow_missing,
        )
    sep = "," if fmt == "csv" else "\t"
    if opts.sequence_column is not None:
        return read_sequence_table(
            path,
            sequence_column=opts.sequence_column,
            sep=sep,
            id_column=opts.id_column,
            metadata_columns=opts.metadata_columns,
            drop_invalid=opts.drop_invalid,
            alphabet=sequences.named_alphabet(opts.alphabet),
        )
    return read_table(
        path,
        sep=sep,
        id_column=opts.id_column,
        metadata_columns=opts.metadata_columns,
        transpose=opts.transpose,
        allow_missing=opts.allow_missing,
    )


def infer_format(path: str | os.PathLike) -> str:
    """Format name from the file extension (case-insensitive); a folder holding
    ``matrix.mtx(.gz)`` is ``10x-mtx``; a PLINK fileset's prefix (``data`` for ``data.bed``)
    is ``plink``.

    Raises
    ------
    DataError
        For an unknown extension, listing the supported ones; for a genotype format not
        read here (PLINK 2, BCF, BGEN, ``.ped``, a ``.bim`` or ``.fam``), naming the fix.
    """
    if _is_10x_folder(Path(path)):
        return "10x-mtx"
    name = Path(path).name.lower()
    for ext in sorted(_EXTENSIONS, key=len, reverse=True):
        if name.endswith(ext):
            return _EXTENSIONS[ext]
    if plink_prefix_bed(Path(path)):
        return "plink"
    refuse_unread_genotype_format(Path(path))
    if Path(path).is_dir():
        prefixed = sorted(
            p.name for p in Path(path).iterdir() if (m := _MTX.fullmatch(p.name)) and m.group(1)
        )
        if prefixed:
            raise DataError(f"{path}: a folder without matrix.mtx(.gz); {_prefixed(prefixed[0])}")
        raise DataError(
            f"{path}: a folder without matrix.mtx(.gz); pass a data file, or a 10x folder with "
            "matrix.mtx, barcodes.tsv and features.tsv"
        )
    if name.removesuffix(".gz").endswith(_VARIANTS_ONLY):  # not FASTA: '--format fasta' misreads
        raise DataError(
            f"{path}: A3M and Stockholm alignments are read by 'biovae variants fit', not here; "
            "convert it to A2M first (esl-reformat a2m FILE, or hhsuite's reformat.pl a3m a2m)"
        )
    if name.endswith((".qza", ".qzv")):  # a zip of data/ + provenance, not a table
        raise DataError(
            f"{path}: a QIIME 2 artifact is not read directly; export its table with `qiime "
            "tools export --input-path FILE --output-path DIR` and pass DIR/feature-table.biom"
        )
    if _MTX.fullmatch(Path(path).name) and not name.startswith("matrix.mtx"):
        raise DataError(f"{path}: {_prefixed(Path(path).name)}")
    if name.endswith((".mtx", ".mtx.gz")):  # its cell and gene names are in the files beside it
        raise DataError(
            f"{path}: a Matrix Market file is read with the barcodes.tsv and features.tsv (or "
            f"genes.tsv) beside it; pass the folder holding them ({Path(path).parent}) as a 10x "
            "matrix.mtx input"
        )
    raise DataError(
        f"{path}: cannot tell the file format from the extension; supported extensions: "
        f"{', '.join(_EXTENSIONS)}; or name the format with fmt= (CLI --format) as one of "
        f"{', '.join(FORMATS)}"
    )


#: a 10x matrix file, with a prefix as GEO names them (``GSM123_matrix.mtx.gz``) or without
_MTX = re.compile(r"(.*?)matrix\.mtx(\.gz)?", re.IGNORECASE)


def _prefixed(matrix: str) -> str:
    """The fix for 10x files whose names carry a prefix (GEO's ``GSM123_matrix.mtx.gz``): the
    reader finds them by Cell Ranger's names only."""
    prefix = _MTX.fullmatch(matrix).group(1)
    return (
        f"10x files named with the prefix '{prefix}' ({matrix}) are read under Cell Ranger's "
        "names only: put the sample's matrix, barcodes and features files in a folder of their "
        f"own, named without '{prefix}' (matrix.mtx.gz, barcodes.tsv.gz, features.tsv.gz), and "
        "pass that folder"
    )


def _names(columns: Sequence[str]) -> tuple[str, ...]:
    """A tuple of column names; a single string is one name, not a sequence of letters."""
    return (columns,) if isinstance(columns, str) else tuple(columns)


def _resolve_format(path: Path, fmt: str | None) -> str:
    if fmt is None:
        return infer_format(path)
    fmt = fmt.lower()
    if fmt not in FORMATS:
        raise DataError(
            f"{path}: unknown format '{fmt}'; use one of {', '.join(FORMATS)} (CLI --format)"
        )
    return fmt


def _check_file(path: Path) -> None:
    if not path.exists():
        raise MissingFileError(
            f"{path}: file not found; check the path (working directory: {Path.cwd()})"
        )
    if not path.is_file():
        raise DataError(f"{path}: not a regular file (is it a directory?); pass a data file")
    if path.stat().st_size == 0:
        raise DataError(f"{path}: the file is empty (0 bytes); check the path")


def _is_10x_folder(path: Path) -> bool:
    return path.is_dir() and any((path / n).is_file() for n in ("matrix.mtx", "matrix.mtx.gz"))


def _check_directory(path: Path) -> None:
    if not path.is_dir():
        raise DataError(
            f"{path}: not a directory; a 10x matrix.mtx input is the folder holding "
            "matrix.mtx, barcodes.tsv and features.tsv"
        )


def _check_options(path: Path, fmt: str, opts: ReadOptions) -> None:
    """Refuse options that do not apply to ``fmt``."""
    for name, formats in OPTION_FORMATS.items():
        if getattr(opts, name) and fmt not in formats:
            raise DataError(
                f"{path}: option {name} does not apply to {fmt} files (only to "
                f"{', '.join(formats)}); remove it"
            )
    if opts.transpose and opts.sequence_column:
        raise DataError(f"{path}: transpose and sequence_column cannot be combined")
    for name in ("drop_invalid", "alphabet"):
        if getattr(opts, name) and fmt in ("csv", "tsv") and not opts.sequence_column:
            raise DataError(f"{path}: {name} applies to sequences; pass sequence_column too")


def join_obs(ds: Dataset, obs_path: str | os.PathLike, *, id_column: str | None = None) -> Dataset:
    """Add the columns of a metadata table, matched on record id.

    The table's ids are those of its column ``id_column`` (default: its first column), compared
    with the records' ids as text, exactly (``007`` is not ``7``). Every record of ``ds`` must
    appear in the table once (the first missing or repeated id is named); extra rows are
    ignored, repeated or not, and the order of the rows does not matter; the table's columns
    replace same-named ``obs`` columns.
    """
    obs_path = Path(obs_path)
    _check_file(obs_path)
    ids, columns = read_obs_table(obs_path, id_column=id_column, records=ds.ids)
    position = {rid: i for i, rid in enumerate(ids)}
    missing = [rid for rid in ds.ids if rid not in position]
    if missing:
        raise DataError(
            f"{obs_path}: record '{missing[0]}' of {ds.source} has no row in the metadata table "
            f"(ids read from its column '{obs_id_name(obs_path, id_column)}'; {len(missing)} of "
            f"{len(ds)} records missing, e.g. {preview(missing, 3)}); "
            + id_mismatch_fix(missing, ids, columns, id_column)
        )
    order = np.fromiter((position[rid] for rid in ds.ids), dtype=np.intp, count=len(ds))
    obs = {**ds.obs, **{name: col[order] for name, col in columns.items()}}
    # both files named: a covariate's or label's problem lies in the metadata table
    source = f"{ds.source}{_METADATA}{obs_path})"
    return replace(ds, obs=obs, source=source)


_METADATA = " (metadata "


def source_name(source: str) -> str:
    """A data set's ``source`` with its files named without their folders, for a heading:
    ``/data/crc_abundance.tsv (metadata /data/crc_metadata.tsv)`` is ``crc_abundance.tsv
    (metadata crc_metadata.tsv)``; a source that is no file (``AnnData``, a built-in data set's
    name) stays as it is."""
    data, joined, obs = source.partition(_METADATA)
    name = Path(data).name or data
    return f"{name}{_METADATA}{Path(obs[:-1]).name or obs[:-1]})" if joined else name
