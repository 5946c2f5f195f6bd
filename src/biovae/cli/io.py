"""Reading inputs and writing outputs for CLI commands (atomic, no partial output)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from biovae.config import DataConfig
from biovae.data.dataset import Dataset
from biovae.data.readers import read_dataset
from biovae.data.writers import write_fasta, write_table
from biovae.errors import DataError


def read_input(path: str, data: DataConfig) -> Dataset:
    """Read DATA with the data options of a config."""
    return read_dataset(
        path,
        fmt=data.format,
        id_column=data.id_column,
        metadata_columns=data.metadata_columns,
        sequence_column=data.sequence_column,
        layer=data.layer,
        transpose=data.transpose,
        obs_path=data.obs_path,
        drop_invalid=data.drop_invalid,
        stream=data.stream,
        allow_missing=data.allow_missing,
    )


def check_output(path: str, suffixes: tuple[str, ...]) -> Path:
    """Validate an output path before any work is done."""
    out = Path(path)
    name = out.name.lower().removesuffix(".gz")
    if not any(name.endswith(s) for s in suffixes):
        raise DataError(f"cannot write {out}: use a file name ending in {', '.join(suffixes)}")
    if not out.parent.exists():
        raise DataError(f"cannot write {out}: folder {out.parent} does not exist; create it first")
    return out


def write_samples(
    path: Path, samples: np.ndarray, features: tuple[str, ...], alphabet: str | None
) -> None:
    """Samples as FASTA (sequences) or a table with one column per feature."""
    ids = [f"sample_{i + 1}" for i in range(len(samples))]
    if alphabet is not None:
        seqs = ["".join(alphabet[c] for c in row) for row in samples.astype(int)]
        if path.name.lower().removesuffix(".gz").endswith((".csv", ".tsv")):
            write_table(path, ids, {"sequence": np.asarray(seqs, dtype=object)})
        else:
            write_fasta(path, ids, seqs)
        return
    flat = samples.reshape(len(samples), -1)
    write_table(path, ids, {f: flat[:, j] for j, f in enumerate(features)})
