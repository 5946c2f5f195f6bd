"""Column conversions and value checks shared by the table, npy and h5ad readers."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from biovae.errors import DataError
from biovae.levels import level_text

# Spellings of "missing" that turn an otherwise numeric column into a feature column with NaN
# (which is then reported), rather than silently into a text metadata column. "" is how
# biom-format stores a missing metadata value in HDF5 BIOM files (JSON ones hold null).
NA_TOKENS = frozenset({"", "NA", "N/A", "NaN", "nan", "NAN", "na", "null", "NULL", "None", "?"})

# Names of an id column, compared by :func:`is_id_name` (case, "#", spaces, "-" and "_" aside,
# so QIIME's "#SampleID", "sample-id", "#OTU ID" and Qiita's "sample_name" count too).
ID_NAMES = frozenset(
    {
        "id",
        "ids",
        "sampleid",
        "sample",
        "samplename",
        "cellid",
        "cell",
        "barcode",
        "obsnames",
        "index",
        "recordid",
        "name",
        "individual",
        "subjectid",
        "featureid",
        "otuid",
        "unnamed:0",
        "",
    }
)


#: Id-column names that name observations (taxa, OTUs, ASVs), not samples: ``biom convert
#: --to-tsv`` heads its taxa x samples table with ``#OTU ID``, QIIME 2 feature tables with
#: ``Feature ID`` / ``feature-id`` (compared as by :func:`is_id_name`)
OBSERVATION_ID_NAMES = frozenset({"otuid", "featureid", "asvid"})


def names_observations(name: str) -> bool:
    """Whether an id column's name says it holds observation (taxon) ids: a table headed so
    is taxa x samples, read the right way round only with ``transpose=True``."""
    return re.sub(r"[\s#_-]", "", name.lower()) in OBSERVATION_ID_NAMES


def to_obs(col: pd.Series) -> np.ndarray:
    """Convert a metadata column to the obs convention.

    Numbers become float64 (NaN = missing); everything else (text, categories, booleans)
    becomes an object array of ``str`` with ``""`` for missing values, categories and booleans
    spelled as levels are (:func:`biovae.levels.level_text`): a category 1.0 is level "1", as
    the same batch read as numbers is.
    """
    if isinstance(col.dtype, pd.CategoricalDtype) or pd.api.types.is_bool_dtype(col.dtype):
        # numpy bool and pandas' nullable boolean alike: "True" / "False"
        return level_text(col.astype(object).to_numpy())
    if pd.api.types.is_numeric_dtype(col.dtype):
        return col.to_numpy(dtype=np.float64, na_value=np.nan)
    return as_text(col)


def declared_categories(columns: Any) -> dict[str, tuple[Any, ...]]:
    """The levels each categorical column of ``columns`` (a DataFrame, or a dict of columns:
    a pandas Categorical or categorical Series among them) declares, used or not (for
    :attr:`biovae.data.dataset.Dataset.categories`): spelled as :func:`to_obs` spells its
    values, or as numbers where the categories are numbers (a Categorical of integers or
    floats: a label column's −1 is then no label, as in a column of numbers)."""
    return {
        str(name): _declared_levels(col.dtype)
        for name, col in columns.items()
        if isinstance(getattr(col, "dtype", None), pd.CategoricalDtype)
    }


def _declared_levels(dtype: pd.CategoricalDtype) -> tuple[Any, ...]:
    categories = dtype.categories
    if categories.dtype.kind in "iuf":
        return tuple(categories.tolist())
    return tuple(level_text(categories.to_numpy(dtype=object)))


def text_table_obs(col: pd.Series) -> np.ndarray:
    """:func:`to_obs` for a column of a delimited text file, read with every field as written:
    a column of numbers with spellings of missing values (``NA``, ``NaN``, ``?``, … as R and
    others write them) is numbers with missing values, as pandas would have read it without
    them."""
    parsed = numeric_or_none(col)  # text is object dtype in pandas 2, ``str`` in pandas 3
    return to_obs(col) if parsed is None else parsed.to_numpy(dtype=np.float64)


def as_text(col: pd.Series) -> np.ndarray:
    """Object array of ``str``; missing values become ``""``."""
    values = col.astype(object).to_numpy()
    missing = pd.isna(values)
    out = np.array([str(v) for v in values], dtype=object)
    out[missing] = ""
    return out


NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def numeric_or_none(col: pd.Series) -> pd.Series | None:
    """Return ``col`` as float64 if it is numeric apart from NA spellings, else ``None``."""
    if pd.api.types.is_bool_dtype(col.dtype) or isinstance(col.dtype, pd.CategoricalDtype):
        return None
    if pd.api.types.is_numeric_dtype(col.dtype):
        return col.astype(np.float64)
    present = col.dropna()
    if len(present) and all(isinstance(v, (bool, np.bool_)) for v in present):
        return None  # True/False with gaps (object dtype): levels "True"/"False", not 1/0
    text = col.astype(object).where(~col.isin(list(NA_TOKENS)), None)
    parsed = pd.to_numeric(text, errors="coerce").astype(np.float64)
    unparsed = parsed.isna() & text.notna()
    if unparsed.any():  # pandas gives NaN for numbers beyond float64 ("1e400"): inf, reported
        rest = [str(v).strip() for v in text[unparsed]]
        if not all(NUMBER.fullmatch(v) for v in rest):
            return None
        parsed[unparsed] = [float(v) for v in rest]
    if parsed.notna().sum() == 0:
        return None
    return parsed


def feature_or_none(col: pd.Series) -> pd.Series | None:
    """:func:`numeric_or_none` for a feature column: one holding only spellings of missing
    values is all NaN, as pandas reads it and as an all-empty column reads (R writes a column
    with no values as ``NA`` throughout), so that it is reported as missing rather than
    becoming metadata and dropping out of the features unnoticed."""
    parsed = numeric_or_none(col)
    if parsed is None and (col.isna() | col.isin(list(NA_TOKENS))).all():
        return pd.Series(np.nan, index=col.index, dtype=np.float64)
    return parsed


def stray_text(col: pd.Series) -> int | None:
    """Position of the first value that is not a number but holds digits (``0,5``, ``1.2.3``)
    in a text column most of whose values are numbers: a feature column with a typo, which
    would otherwise drop out of the features silently, as metadata; else ``None``. Words
    without digits (an age column's ``unknown``) mark metadata and are left alone."""
    if pd.api.types.is_bool_dtype(col.dtype) or isinstance(col.dtype, pd.CategoricalDtype):
        return None
    text = col.astype(object).where(~col.isin(list(NA_TOKENS)), None).astype("string")
    present = text.notna().to_numpy()  # as text: True/False (objects with gaps) are no numbers
    numeric = pd.to_numeric(text, errors="coerce").notna().to_numpy()
    digits = text.str.contains(r"\d", regex=True).fillna(False).to_numpy(dtype=bool)
    stray = present & ~numeric & digits
    if 2 * numeric.sum() <= present.sum() or not stray.any():
        return None
    return int(np.argmax(stray))


def check_finite(
    x: np.ndarray | sp.csr_matrix,
    ids: Sequence[str],
    features: Sequence[str],
    source: str,
    *,
    line_of: Callable[[int], int] | None = None,
    allow_missing: bool = False,
) -> None:
    """Raise a one-line ``DataError`` at the first NaN or infinite value (row-major order;
    with ``allow_missing`` NaN marks a missing value and only infinities are refused).

    Parameters
    ----------
    x
        Dense array or CSR matrix of feature values.
    ids, features
        Row and column names used in the message.
    source
        File name used in the message.
    line_of
        If given, gives the line of the file on which record ``i`` sits (tables).
    """
    find = _first_infinite if allow_missing else _first_nonfinite
    pos = x.first(find) if hasattr(x, "first") else find(x)
    if pos is None:
        return
    row, col, value = pos
    line = f", line {line_of(row)}" if line_of is not None else ""
    where = f"{source}: record '{ids[row]}'{line}, column '{features[col]}'"
    if np.isnan(value):
        raise DataError(
            f"{where}: missing value (empty or NaN) in a feature column; impute or drop the "
            "missing values first, list the column in metadata_columns if it is not a feature, "
            "or, for genotypes, pass --allow-missing (allow_missing=True; to fit: with "
            "--likelihood genotype) to read them as missing calls"
        )
    raise DataError(
        f"{where}: non-finite value {value} (infinite, or too large for float32); "
        "replace or drop it before training"
    )


def _first_infinite(x: np.ndarray | sp.csr_matrix) -> tuple[int, int, float] | None:
    """Row, column and value of the first infinite entry (NaN allowed), or ``None``."""
    return _first_where(x, np.isinf)


def _first_nonfinite(x: np.ndarray | sp.csr_matrix) -> tuple[int, int, float] | None:
    """Row, column and value of the first non-finite entry, or ``None``."""
    return _first_where(x, lambda v: ~np.isfinite(v))


def _first_where(x: np.ndarray | sp.csr_matrix, bad_fn) -> tuple[int, int, float] | None:
    """Row, column and value of the first entry (row-major order) where ``bad_fn`` holds."""
    if sp.issparse(x):
        bad = np.flatnonzero(bad_fn(x.data))
        if bad.size == 0:
            return None
        row = int(np.searchsorted(x.indptr, bad[0], side="right") - 1)
        in_row = bad[bad < x.indptr[row + 1]]
        k = int(in_row[np.argmin(x.indices[in_row])])
        return row, int(x.indices[k]), float(x.data[k])
    bad = bad_fn(x)
    if not bad.any():
        return None
    row = int(np.argmax(bad.any(axis=1)))
    col = int(np.argmax(bad[row]))
    return row, col, float(x[row, col])


def is_id_name(name: str) -> bool:
    """Whether a column name says the column holds record ids (see ``ID_NAMES``): such a
    column is the ids even when they look like numbers (``001``, Qiita's ``10317.000001``)."""
    return re.sub(r"[\s#_-]", "", name.lower()) in ID_NAMES


def check_header_names(header: Sequence[str], path: object) -> None:
    """A one-line error when a table's first line holds values, not names: every field after
    the first is a number and some are fractions (``0.53``), which no one names columns
    (whole numbers may be names: pandas writes ``0,1,2,...`` for unnamed columns). Read as
    a header, such a line silently lost the first record. A first field named like an id
    column (``#OTU ID``) marks a header whose other names are numbers (Qiita sample ids)."""
    blank = [i for i, h in enumerate(header) if i and not h.strip()]
    if blank:  # a feature named '' (or the empty last column of trailing separators)
        raise DataError(
            f"{path}: column {blank[0] + 1} of the header has no name; name it, or delete the "
            "column (or the separator that ends each line)"
        )
    if is_id_name(header[0]):
        return
    fields = [h.strip() for h in header[1:]]
    numbers = [float(h) for h in fields if NUMBER.fullmatch(h)]
    if fields and len(numbers) == len(fields) and any(not v.is_integer() for v in numbers):
        raise DataError(
            f"{path}: the first line holds numbers ({', '.join(fields[:3])}, ...), not column "
            "names; add a header line naming the columns (an id column first) so that the "
            "first record is not read as one, or, if this line is the header (numbers as "
            "sample names), name its first column 'id'"
        )


#: A taxon named as profilers and classifiers write it: a rank prefix first (MetaPhlAn's and
#: Greengenes' ``k__``, GTDB's ``d__``, ... ``s__``, MetaPhlAn 4's ``t__``; SILVA's ``D_0__``)
TAXON = re.compile(r"(?:[kdpcofgst]|D_\d+)__")


def check_composition(
    ids: Sequence[str], features: Sequence[str], source: object, family: str
) -> None:
    """The checks of a table of compositions by their names: samples as the records (not
    taxa, see :func:`check_samples_are_records`) and taxa of one rank as the features."""
    check_samples_are_records(ids, features, source, family)
    check_single_rank(features, source, family)


def check_samples_are_records(
    ids: Sequence[str], features: Sequence[str], source: object, family: str
) -> None:
    """Raise a ``DataError`` if most records are named like taxa and most features are not: a
    taxa x samples table read as samples x taxa (``--transpose`` missing, or given for a
    samples x taxa table), whose counts were fitted as if each taxon were a sample."""
    found = _named_the_other_way(ids, features, TAXON.match, lambda f: not TAXON.match(f))
    if found is None:
        return
    raise DataError(
        f"{source}: the records are named like taxa (e.g. '{found[0]}') and the features are "
        f"not (e.g. '{found[1]}'): the '{family}' likelihood needs one record per sample, "
        "with the taxa as features; pass --transpose (transpose=True) for a table with the "
        "taxa as rows, or leave it out for a table with the taxa as columns"
    )


#: A cell barcode: a run of 12 or more bases (10x's 16, Drop-seq's 12), written with or
#: without a sample prefix or suffix (``AAACCTGAGAAGGCCT-1``, ``s1_AAACCTGAGAAGGCCT``)
BARCODE = re.compile(r"[ACGT]{12,}")
#: A gene: an Ensembl gene id (``ENSG…``, ``ENSMUSG…``, versioned or not) or a symbol-like name
GENE = re.compile(r"ENS[A-Z]*G\d{6,}(\.\d+)?|[A-Za-z][A-Za-z0-9._:-]{0,39}")


def _gene_like(name: str) -> bool:
    return GENE.fullmatch(name) is not None and BARCODE.search(name) is None


def check_cells_are_records(
    ids: Sequence[str], features: Sequence[str], source: object, family: str
) -> None:
    """Raise a ``DataError`` if most records are named like genes and most features like cell
    barcodes: a genes x cells table (as R writes one) read as cells x genes (``--transpose``
    missing, or given for a cells x genes table), whose counts would be fitted as if each gene
    were a cell. Names prove nothing otherwise (Smart-seq cells, ``cell_1``), so nothing else
    is refused."""
    found = _named_the_other_way(ids, features, _gene_like, BARCODE.search)
    if found is None:
        return
    raise DataError(
        f"{source}: the records are named like genes (e.g. '{found[0]}') and the features like "
        f"cell barcodes (e.g. '{found[1]}'): the '{family}' likelihood needs one record per "
        "cell, with the genes as features; pass --transpose (transpose=True) for a table with "
        "the genes as rows, or leave it out for a table with the cells as rows (an .h5ad "
        "written the wrong way round: write adata.T)"
    )


def _named_the_other_way(
    ids: Sequence[str],
    features: Sequence[str],
    record_is_feature: Callable[[str], object],
    feature_is_record: Callable[[str], object],
) -> tuple[str, str] | None:
    """A record named like a feature and a feature named like a record, when more than half
    of the (first 1,000) records and of the (first 1,000) features are: the signs of a table
    read the wrong way round; else ``None``."""
    records = [str(i) for i in ids[:1000] if record_is_feature(str(i))]
    columns = [str(f) for f in features[:1000] if feature_is_record(str(f))]
    if 2 * len(records) <= min(len(ids), 1000) or 2 * len(columns) <= min(len(features), 1000):
        return None
    return records[0], columns[0]


def check_single_rank(features: Sequence[str], source: object, family: str) -> None:
    """Raise a ``DataError`` if one feature's name is a taxonomy path inside another's
    (``k__Bacteria`` and ``k__Bacteria|p__Firmicutes``, or ``;``-separated): such a table
    holds several ranks, as MetaPhlAn's merged output does, and counts every read or share
    once per rank, which no composition of taxa does."""
    names = set(features)
    for name in features:
        for cut in (m.start() for m in re.finditer(r"[|;]", name)):
            parent = name[:cut].rstrip()
            if parent in names:
                raise DataError(
                    f"{source}: feature '{name}' lies within feature '{parent}', so the table "
                    f"holds several taxonomic ranks and the '{family}' likelihood would count "
                    "each read or share once per rank; keep the features of one rank (e.g. "
                    "MetaPhlAn rows whose last level is s__)"
                )
