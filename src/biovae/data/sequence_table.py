"""Sequences stored in a table column (e.g. ``id  class  sequence``) -> uint8 codes."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from biovae.data import sequences
from biovae.data._columns import text_table_obs
from biovae.data.dataset import Dataset
from biovae.data.tables import Table, load_table, record_ids, require_columns
from biovae.errors import DataError


def read_sequence_table(
    path: str | Path,
    *,
    sequence_column: str,
    sep: str | None = None,
    id_column: str | None = None,
    metadata_columns: Sequence[str] = (),
    drop_invalid: bool = False,
    alphabet: str | None = None,
) -> Dataset:
    """Read a CSV/TSV whose ``sequence_column`` holds equal-length sequences.

    Letters are upper-cased (lower-case DNA such as ``acgt`` is common in such tables), the
    alphabet is detected (DNA, RNA or protein) and every other column except the id column
    becomes ``obs``.

    Parameters
    ----------
    path
        CSV/TSV file, optionally gzip-compressed.
    sequence_column
        Column with the sequences.
    sep
        Field separator; inferred from the extension when ``None``.
    id_column
        Column holding record ids (default: see :func:`biovae.data.tables.load_table`).
    metadata_columns
        Columns expected in the table (checked to exist; all other columns are kept too).
    drop_invalid
        Skip records with letters outside the detected alphabet instead of raising.
    alphabet
        The letters to encode with (``sequences.DNA``, ``RNA`` or ``PROTEIN``) instead of the
        detected ones.

    Returns
    -------
    Dataset
        ``x`` = uint8 codes ``(n, L)``, features ``"1".."L"``, ``alphabet`` set.
    """
    table = load_table(path, sep=sep, id_column=id_column, text_columns=[sequence_column])
    require_columns(table, [sequence_column], "sequence column")
    require_columns(table, metadata_columns, "metadata column")
    if sequence_column == table.id_column:
        raise DataError(
            f"{table.source}: sequence column '{sequence_column}' is also the id column; "
            "pass id_column to name the column that holds record ids"
        )
    ids = record_ids(table)
    seqs = _sequences(table, sequence_column, ids)
    raw = sequences.upper(sequences.byte_matrix(seqs, list(ids), table.source))
    labels = sequences.position_labels(raw.shape[1])
    alphabet = alphabet or sequences.detect_alphabet(raw)
    codes, keep = sequences.encode(
        raw, alphabet, list(ids), labels, table.source, drop_invalid=drop_invalid
    )
    skip = {sequence_column, table.id_column}
    obs = {c: text_table_obs(table.frame[c])[keep] for c in table.frame.columns if c not in skip}
    return Dataset(
        x=codes, ids=ids[keep], features=labels, obs=obs, alphabet=alphabet, source=table.source
    )


def _sequences(table: Table, column: str, ids: np.ndarray) -> list[str]:
    """Stripped sequence strings of ``column``; an empty cell is an error naming its record."""
    seqs = []
    for row, value in enumerate(table.frame[column].to_numpy()):
        text = value.strip() if isinstance(value, str) else ""
        if not text:
            raise DataError(
                f"{table.source}: record '{ids[row]}' (line {table.line(row)}), column "
                f"'{column}': empty sequence; fill it in or drop the record"
            )
        seqs.append(text)
    return seqs
