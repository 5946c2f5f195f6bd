"""CSV/TSV (optionally .gz) readers: numeric tables, features x samples tables and obs tables.

Rules for a samples x features table: the id column is ``id_column`` if given, else the first
column when it is named like an id (``id``, ``sample_id``, ``#SampleID``, ``cell``, ...: see
:func:`~biovae.data._columns.is_id_name`) or is not numeric; without one, ids are ``"0".."n-1"``.
An id column named for taxa (``#OTU ID``, ``Feature ID``) marks a taxa x samples table, refused
with the fix ``transpose=True``.
Columns named in ``metadata_columns`` and every other non-numeric column become ``obs``; the
remaining numeric columns are the features (float32), a repeated name (gene symbols) renamed
as anndata's ``var_names_make_unique`` does, with a warning; a column of numbers with a few
other values holding digits (``0,5``) is an error, not metadata. A column that is numeric apart from
spellings of "missing" (``NA``, ``nan``, ...), or holds nothing else, counts as a feature, so
the missing values are reported instead of the column silently becoming metadata.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from biovae.data._columns import (
    as_text,
    check_finite,
    feature_or_none,
    is_id_name,
    names_observations,
    numeric_or_none,
    stray_text,
    text_table_obs,
)
from biovae.data._delimited import read_frame, read_header, record_line, separator
from biovae.data._messages import preview
from biovae.data._q2types import q2_types, typed_obs
from biovae.data.dataset import Dataset
from biovae.errors import DataError


@dataclass(frozen=True)
class Table:
    """A loaded table, its id column (or ``None``), its origin and its field separator."""

    frame: pd.DataFrame
    id_column: str | None
    source: str
    sep: str

    def line(self, row: int) -> int:
        """The line of the file on which record ``row`` (0-based) starts, for messages."""
        return record_line(self.source, self.sep, row)


def read_table(
    path: str | Path,
    *,
    sep: str | None = None,
    id_column: str | None = None,
    metadata_columns: Sequence[str] = (),
    text_columns: Sequence[str] = (),
    transpose: bool = False,
    allow_missing: bool = False,
) -> Dataset:
    """Read a numeric table into a :class:`Dataset` (float32 features).

    Parameters
    ----------
    path
        CSV/TSV file, optionally gzip-compressed.
    sep
        Field separator; inferred from the extension when ``None``.
    id_column
        Column holding record ids (with ``transpose=True``: holding feature names).
    metadata_columns
        Columns to keep as ``obs`` even if numeric (with ``transpose=True``: columns annotating
        the features, such as ``taxonomy``, which are left out).
    text_columns
        Metadata columns to keep as text even if they look numeric (e.g. cluster labels).
    transpose
        The table is features x samples (first column = feature names).
    allow_missing
        Empty fields are missing values (NaN) instead of an error, for likelihoods that model
        them (``genotype``); every other likelihood refuses NaN when training.
    """
    if transpose:
        return _read_transposed(
            path,
            sep=sep,
            id_column=id_column,
            metadata=metadata_columns,
            allow_missing=allow_missing,
        )
    named = {c for c in (id_column, *metadata_columns, *text_columns) if c is not None}
    table = load_table(path, sep=sep, id_column=id_column, text_columns=text_columns, kept=named)
    require_columns(table, [*metadata_columns, *text_columns], "metadata column")
    _check_not_observations(table)
    obs, features, parsed = _split_columns(table, set(metadata_columns), text_columns)
    if not features:
        raise DataError(
            f"{table.source}: no numeric feature columns (found {preview(table.frame.columns)}); "
            "check the separator, or pass transpose=True (CLI --transpose) if the table is "
            "features x samples"
        )
    x = _feature_matrix(table.frame, features, parsed)
    ids = record_ids(table)
    check_finite(x, ids, features, table.source, line_of=table.line, allow_missing=allow_missing)
    return Dataset(x=x, ids=ids, features=features, obs=obs, source=table.source)


def _check_not_observations(table: Table) -> None:
    """Refuse a records' id column named for taxa (``#OTU ID``, ``Feature ID``): the table is
    taxa x samples, as ``biom convert --to-tsv`` and QIIME 2 export it, and read as it stands
    each taxon would be fitted as a sample (OTU hashes and numbers give no other sign)."""
    if table.id_column is not None and names_observations(table.id_column):
        raise DataError(
            f"{table.source}: the first column, '{table.id_column}', names taxa (OTUs, "
            "features), so each row is a taxon and each column a sample, as biom convert and "
            "QIIME 2 write a feature table; pass --transpose (transpose=True) to read the "
            "samples as records, with --metadata-columns taxonomy if it has that column"
        )


def read_obs_table(
    path: str | Path,
    *,
    id_column: str | None = None,
    sep: str | None = None,
    records: Sequence[str] | None = None,
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Read a metadata table: its id column (``id_column`` or the first) and the other columns.

    Ids are read as text, as written (``007`` stays ``007``, never the number 7). They must be
    unique: all of them, or with ``records`` (the ids of the records the table will be joined
    to) only those; rows of other ids are extra and may repeat. Rows whose id starts with ``#``
    are comments, as in QIIME 2 metadata, and are left out; its ``#q2:types`` directive row
    types columns (:mod:`biovae.data._q2types`): a ``categorical`` column of numbers is text.

    Returns
    -------
    ids, obs
        Record ids (``str``) and one obs array per remaining column.
    """
    table = load_table(path, sep=sep, id_column=obs_id_name(path, id_column, sep))
    types = q2_types(table.frame, table.id_column, table.source)
    table = replace(table, frame=_without_comment_rows(table))
    ids = record_ids(table)
    _check_unique_obs_ids(table, ids, records)
    obs = {
        c: typed_obs(table.frame[c], types.get(str(c)), table.source, table.line)
        for c in table.frame.columns
        if c != table.id_column
    }
    return ids, obs


def obs_id_name(path: str | Path, id_column: str | None = None, sep: str | None = None) -> str:
    """The id column of a metadata table: ``id_column``, which must be one of its columns
    (a one-line error naming them and ``--obs-id-column`` otherwise), or its first column."""
    header = read_header(path, separator(path) if sep is None else sep)
    if id_column is None:
        return header[0]
    if id_column not in header:
        raise DataError(
            f"{path}: id column '{id_column}' not found in the metadata table; available "
            f"columns: {preview(header)}; name the one holding the record ids with "
            "--obs-id-column (obs_id_column)"
        )
    return id_column


def _check_unique_obs_ids(table: Table, ids: np.ndarray, records: Sequence[str] | None) -> None:
    """A one-line error naming the first id (of ``records``, or any) on two rows of a metadata
    table: its column and both lines; ids of rows that no record has may repeat."""
    checked = pd.Series(ids, index=table.frame.index)
    if records is not None:
        checked = checked[checked.isin(records).to_numpy()]
    twice = checked.duplicated(keep=False).to_numpy()
    if not twice.any():
        return
    rid = checked.loc[checked.index[twice][0]]
    rows = checked.index[checked.to_numpy() == rid]
    raise DataError(
        f"{table.source}: duplicate record id '{rid}' in column '{table.id_column}' (lines "
        f"{table.line(int(rows[0]))} and {table.line(int(rows[1]))}); give each record one "
        "row, or name the column that holds unique record ids with --obs-id-column"
    )


def _without_comment_rows(table: Table) -> pd.DataFrame:
    """The rows of a metadata table whose id does not start with ``#`` (QIIME 2 comments and
    ``#q2:`` directives), with their index kept so that messages name their lines."""
    comment = table.frame[table.id_column].fillna("").astype(str).str.startswith("#")
    if comment.all():
        raise DataError(f"{table.source}: no data rows, only comment rows (ids starting '#')")
    return table.frame.loc[~comment.to_numpy(dtype=bool)] if comment.any() else table.frame


def load_table(
    path: str | Path,
    *,
    sep: str | None = None,
    id_column: str | None = None,
    text_columns: Sequence[str] = (),
    kept: Collection[str] | None = None,
) -> Table:
    """Load a table with pandas and decide its id column (see the module docstring); a
    repeated column name is an error, or with ``kept`` renamed unless it is one of them
    (:func:`~biovae.data._delimited.read_header`)."""
    sep = separator(path) if sep is None else sep
    source = str(path)
    header = read_header(path, sep, kept)
    if id_column is not None and id_column not in header:
        raise DataError(
            f"{source}: id column '{id_column}' not found; available columns: {preview(header)}"
        )
    named_id = id_column or (header[0] if is_id_name(header[0]) else None)
    as_str = {c: str for c in [named_id, *text_columns] if c is not None and c in header}
    frame = read_frame(path, sep, header, as_str)
    if frame.empty:
        raise DataError(f"{source}: no data rows (only a header); the table is empty")
    first = frame.columns[0]
    if named_id is None and numeric_or_none(frame[first]) is None:
        named_id = first
    return Table(frame=frame, id_column=named_id, source=source, sep=sep)


def require_columns(table: Table, names: Sequence[str], kind: str) -> None:
    """Raise a ``DataError`` naming the first of ``names`` that is not a column."""
    for name in names:
        if name not in table.frame.columns:
            raise DataError(
                f"{table.source}: {kind} '{name}' not found; available columns: "
                f"{preview(table.frame.columns)}"
            )


def record_ids(table: Table) -> np.ndarray:
    """Ids from the id column (``"0".."n-1"`` without one); empty ids are an error."""
    if table.id_column is None:
        return np.array([str(i) for i in range(len(table.frame))], dtype=object)
    col = table.frame[table.id_column]
    missing = col.isna().to_numpy()
    if missing.any():
        row = int(col.index[np.argmax(missing)])  # the index counts the rows read
        raise DataError(
            f"{table.source}: line {table.line(row)}, column '{table.id_column}': empty "
            "record id; every record needs an id"
        )
    return as_text(col)


def _split_columns(
    table: Table, metadata: set[str], text_columns: Sequence[str]
) -> tuple[dict[str, np.ndarray], list[str], dict[str, pd.Series]]:
    """Sort non-id columns into obs arrays and numeric feature columns.

    Returns the obs arrays, the feature column names and the parsed float64 values of the
    feature columns that pandas read as text (numeric apart from spellings of "missing").
    """
    obs: dict[str, np.ndarray] = {}
    features: list[str] = []
    parsed: dict[str, pd.Series] = {}
    frame = table.frame
    for name, dtype in frame.dtypes.items():
        if name == table.id_column:
            continue
        if name in text_columns:
            obs[name] = as_text(frame[name])
        elif name in metadata:
            obs[name] = text_table_obs(frame[name])
        elif pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype):
            features.append(name)
        elif (numeric := feature_or_none(frame[name])) is not None:
            features.append(name)
            parsed[name] = numeric
        elif (row := stray_text(frame[name])) is not None:
            raise DataError(
                f"{table.source}: line {table.line(row)}, column '{name}': "
                f"'{frame[name].iloc[row]}' is not a number, in a column of numbers; correct it "
                "(e.g. a decimal point, not a comma), or list the column in metadata_columns "
                "(CLI --metadata-columns) if it is metadata"
            )
        else:
            obs[name] = text_table_obs(frame[name])
    return obs, features, parsed


def _feature_matrix(
    frame: pd.DataFrame, features: list[str], parsed: dict[str, pd.Series]
) -> np.ndarray:
    """Stack the numeric columns into a float32 ``(n, f)`` array."""
    num = frame[features].assign(**parsed) if parsed else frame[features]
    with np.errstate(over="ignore"):  # values beyond float32 become inf and are reported
        return num.to_numpy(dtype=np.float32, na_value=np.nan)


def _read_transposed(
    path: str | Path,
    *,
    sep: str | None,
    id_column: str | None,
    metadata: Sequence[str],
    allow_missing: bool,
) -> Dataset:
    """Features x samples table: first column (or ``id_column``) = feature names; the
    ``metadata`` columns annotate the features (QIIME's ``taxonomy``, MetaPhlAn's
    ``NCBI_tax_id``) and are left out."""
    sep = separator(path) if sep is None else sep
    name_col = id_column or read_header(path, sep)[0]
    table = load_table(path, sep=sep, id_column=name_col)
    require_columns(table, metadata, "feature annotation column")
    feature_names = record_ids(table)
    samples = [c for c in table.frame.columns if c != name_col and c not in metadata]
    if not samples:
        raise DataError(f"{table.source}: no sample columns besides '{name_col}'; check the file")
    columns = []
    for name in samples:
        numeric = feature_or_none(table.frame[name])
        if numeric is None and (row := stray_text(table.frame[name])) is not None:
            raise DataError(
                f"{table.source}: line {table.line(row)} (feature '{feature_names[row]}'), "
                f"column '{name}': '{table.frame[name].iloc[row]}' is not a number; correct it "
                "(e.g. a decimal point, not a comma)"
            )
        if numeric is None:
            raise DataError(
                f"{table.source}: sample column '{name}' is not numeric; a features x samples "
                "table (transpose=True) holds numbers besides the feature names; list a column "
                "annotating the features (taxonomy) in metadata_columns (CLI --metadata-columns)"
            )
        with np.errstate(over="ignore"):  # beyond float32 -> inf, reported below
            columns.append(numeric.to_numpy(dtype=np.float32, na_value=np.nan))
    x = np.ascontiguousarray(np.vstack(columns))
    ids = np.asarray(samples, dtype=object)
    check_finite(x, ids, list(feature_names), table.source, allow_missing=allow_missing)
    return Dataset(x=x, ids=ids, features=tuple(feature_names), obs={}, source=table.source)
