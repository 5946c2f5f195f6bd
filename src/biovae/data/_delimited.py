"""Reading delimited text tables (CSV/TSV, optionally .gz): the header line, the records as
pandas reads them, and the file line of a record for messages; one-line errors for empty,
malformed, damaged or non-UTF-8 files and for tables of another separator (a European Excel
CSV of ';')."""

from __future__ import annotations

import contextlib
import csv
import gzip
import warnings
from collections.abc import Collection
from pathlib import Path

import pandas as pd

from biovae.data._columns import check_header_names
from biovae.data._messages import UNREADABLE, unreadable
from biovae.data._text import ENCODING
from biovae.data._text import not_utf8 as _not_utf8
from biovae.data.dataset import unique_names
from biovae.errors import DataError


def separator(path: str | Path) -> str:
    """``","`` for ``.csv``/``.csv.gz``, otherwise tab."""
    name = Path(path).name.lower().removesuffix(".gz")
    return "," if name.endswith(".csv") else "\t"


def read_header(path: str | Path, sep: str, kept: Collection[str] | None = None) -> list[str]:
    """Column names of the first line; rejects empty files, comment lines above the header
    (as ``biom convert --to-tsv`` and MetaPhlAn write) and repeated names, which with
    ``kept`` are renamed instead, unless they are among ``kept`` (see
    :func:`_renamed_repeats`)."""
    try:
        with open_text(path) as fh:
            reader = csv.reader(fh, delimiter=sep)
            header, second = next(reader, None), None
            with contextlib.suppress(csv.Error):  # a field beyond the csv module's size limit
                second = next(reader, None)
    except UnicodeDecodeError as exc:
        raise not_utf8(path) from exc
    except UNREADABLE as exc:
        raise unreadable(path, exc) from exc
    if not header or not any(h.strip() for h in header):
        raise DataError(f"{path}: the file is empty (no header line); check the path")
    if len(header) == 1:
        check_separator(path, sep)
    if len(header) == 1 and header[0].startswith("#") and second and _comment_above(second):
        biom = " (or read the .biom file itself)" if "biom" in header[0] else ""
        raise DataError(
            f"{path}: line 1 ('{header[0]}') is a comment, not the header; delete the comment "
            f"lines above the header (as MetaPhlAn and biom convert write) so that the column "
            f"names come first{biom}"
        )
    check_header_names(header, path)
    return _renamed_repeats(header, path, kept)


def _renamed_repeats(
    header: list[str], path: str | Path, kept: Collection[str] | None
) -> list[str]:
    """``header`` with each repeated name's later copies renamed as anndata's
    ``var_names_make_unique`` does (``A``, ``A-1``, ``A-2``: repeated gene symbols of a cells x
    genes table), with a warning. Without ``kept`` (tables whose columns are records or ids)
    a repeated name is an error, and so is a repeat of a name in ``kept`` (an id or metadata
    column named by the user): which copy would be meant?"""
    index = pd.Index(header)
    repeated = list(dict.fromkeys(index[index.duplicated()]))
    refused = repeated if kept is None else [n for n in repeated if n in kept]
    if refused:
        raise DataError(
            f"{path}: duplicate column name '{refused[0]}' in the header; column names must be "
            "unique: rename one of the columns"
        )
    return list(unique_names(header, str(path))) if repeated else header


#: the field separators a table may be saved with, as the messages name them
_SEPARATORS = {",": "','", ";": "';'", "\t": "tabs"}


def check_separator(path: str | Path, sep: str) -> None:
    """A one-line error when a table whose header is one field under ``sep`` has its first
    two lines split alike, into several fields, by another separator: a European Excel CSV
    (';' between fields, decimal commas), or a tab-separated file named ``.csv`` (or the
    reverse), which would otherwise be read as one giant column."""
    if any(len(row) > 1 for row in _first_rows(path, sep)[:1]):  # the header has fields
        return
    other = next((o for o in _SEPARATORS if o != sep and _splits_alike(path, o)), None)
    if other == ";":
        raise DataError(
            f"{path}: the fields are separated by ';', not {_SEPARATORS[sep]} (as Excel saves "
            "CSV where the decimal mark is a comma); save the table with ',' between fields "
            "and '.' as the decimal mark (Excel: set the decimal separator to '.', then save "
            "as 'CSV UTF-8'), or tab-separated as .tsv"
        )
    if other is not None:
        fmt = "csv" if other == "," else "tsv"
        raise DataError(
            f"{path}: the fields are separated by {_SEPARATORS[other]}, not {_SEPARATORS[sep]}; "
            f"give the file a name ending in .{fmt} (or name the format: fmt='{fmt}', CLI "
            f"--format {fmt})"
        )


def _splits_alike(path: str | Path, sep: str) -> bool:
    """Whether the first two non-blank lines split into the same number (> 1) of fields."""
    rows = _first_rows(path, sep)
    return len(rows) == 2 and 1 < len(rows[0]) == len(rows[1])


def _first_rows(path: str | Path, sep: str) -> list[list[str]]:
    """The fields of the first two non-blank lines (fewer when the file has fewer, or cannot
    be read: the reader says why)."""
    with contextlib.suppress(csv.Error, UnicodeDecodeError, *UNREADABLE), open_text(path) as fh:
        rows = (r for r in csv.reader(fh, delimiter=sep) if any(f.strip() for f in r))
        return [r for _, r in zip(range(2), rows)]
    return []


def _comment_above(second: list[str]) -> bool:
    """Whether the line after a one-field ``#`` line shows that line to be a comment above the
    header: the header (several fields) or another comment (MetaPhlAn 4 writes several)."""
    return len(second) > 1 or second[0].startswith("#")


def record_line(path: str | Path, sep: str, row: int) -> int:
    """The line of the file on which data record ``row`` (0-based) starts.

    Counted as pandas reads the table: blank (empty or whitespace-only) lines hold no record,
    and a quoted field may span lines. The file is read again, so this is for error messages;
    should the csv module fail where pandas did not (a field beyond its size limit), the line
    is counted as if the file had no blank lines.
    """
    try:
        with open_text(path) as fh:
            reader = csv.reader(fh, delimiter=sep)
            next(reader, None)  # the header
            start, seen = reader.line_num + 1, -1
            for fields in reader:
                seen += not _blank(fields)
                if seen == row:
                    return start
                start = reader.line_num + 1
    except (csv.Error, UnicodeDecodeError, *UNREADABLE):
        pass
    return row + 2


def _blank(fields: list[str]) -> bool:
    """Whether a csv-module row is a line pandas skips: empty, or whitespace only (unquoted:
    a lone quoted ``""`` is a row of one empty field)."""
    return not fields or (len(fields) == 1 and fields[0] != "" and not fields[0].strip())


def open_text(path: str | Path):
    """Open a table (``.gz`` decompressed) as text for the csv module; ``-sig`` drops a BOM."""
    opener = gzip.open if str(path).lower().endswith(".gz") else open
    return opener(path, "rt", encoding=ENCODING, newline="")


def read_frame(
    path: str | Path, sep: str, header: list[str], as_str: dict[str, type]
) -> pd.DataFrame:
    """``pandas.read_csv`` with literal strings kept (only empty fields are missing).

    The columns get exactly the names of ``header`` (pandas would rename an empty name, as
    written for the index by ``DataFrame.to_csv`` and R's ``write.csv``, to ``Unnamed: 0``).
    ``index_col=False`` stops pandas from silently turning surplus leading fields into an
    index; the warning it gives instead is raised as a malformed-table error.
    """
    fields = "commas" if sep == "," else "tab-separated fields"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", pd.errors.ParserWarning)
            return pd.read_csv(
                path,
                sep=sep,
                names=header,
                header=0,
                dtype=as_str or None,
                keep_default_na=False,
                na_values=[""],
                low_memory=False,
                index_col=False,
                encoding=ENCODING,
            ).pipe(_without_trailing_empty_rows)
    except pd.errors.EmptyDataError as exc:
        raise DataError(f"{path}: the file is empty; check the path") from exc
    except pd.errors.ParserWarning as exc:
        raise DataError(
            f"{path}: malformed table (line {record_line(path, sep, 0)} has more fields than "
            f"the header); every row needs the same number of {fields} as the header"
            + _row_names_hint(path, sep, len(header))
        ) from exc
    except UnicodeDecodeError as exc:  # not a matter of fields: say so, and where
        raise not_utf8(path) from exc
    except UNREADABLE as exc:  # a damaged .gz: no matter of fields
        raise unreadable(path, exc) from exc
    except pd.errors.ParserError as exc:
        reason = str(exc).strip().splitlines()[-1]
        raise DataError(
            f"{path}: malformed table ({reason}); every row needs the same number of "
            f"{fields} as the header"
        ) from exc


def _without_trailing_empty_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` without the rows at its end whose fields are all empty: lines of separators
    alone (``,,,,``), as Excel saves the empty but once-used rows below a table; they hold no
    record (pandas already skips blank lines)."""
    end = len(frame)
    while end and frame.iloc[end - 1].isna().all():
        end -= 1
    return frame if end == len(frame) else frame.iloc[:end]


def not_utf8(path: str | Path) -> DataError:
    """The error for a table that is not UTF-8 text (a UTF-16 or Latin-1 export, or a binary
    file read as a table), naming the encoding or the first line that is not UTF-8."""
    return _not_utf8(
        path,
        "the table",
        ", or, if the file is not a table, name its format with fmt= (CLI --format)",
    )


def _row_names_hint(path: str | Path, sep: str, n_names: int) -> str:
    """The fix for a header one name short of the records, as R's ``write.table`` writes a
    table with row names (curatedMetagenomicData's, phyloseq's), or '' for other tables."""
    with contextlib.suppress(csv.Error, UnicodeDecodeError, *UNREADABLE), open_text(path) as fh:
        rows = csv.reader(fh, delimiter=sep)
        next(rows, None)
        first = next((r for r in rows if r and any(f.strip() for f in r)), [])
        if len(first) == n_names + 1:
            return (
                "; the header is one name short, as R's write.table writes row names: write "
                "the table with col.names = NA, or add a name for the ids (e.g. 'id') at the "
                "start of the header"
            )
    return ""
