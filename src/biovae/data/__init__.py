"""Data layer: files -> :class:`Dataset` (arrays + ids + metadata) and back.

Imports nothing from the model stack. Optional formats (``.h5ad``) import their packages
lazily and say which extra to install when missing.
"""

from __future__ import annotations

from biovae.data.dataset import Dataset
from biovae.data.download import fetch
from biovae.data.fasta import read_fasta
from biovae.data.fingerprint import fingerprint
from biovae.data.h5ad import read_h5ad
from biovae.data.npy import read_npy
from biovae.data.plink import read_plink
from biovae.data.readers import FORMATS, infer_format, join_obs, read_dataset
from biovae.data.registry import builtin_names, load_builtin
from biovae.data.sequence_table import read_sequence_table
from biovae.data.sequences import DNA, PROTEIN, RNA, decode
from biovae.data.tables import read_table
from biovae.data.writers import atomic_open, atomic_write, write_fasta, write_table

__all__ = [
    "DNA",
    "FORMATS",
    "PROTEIN",
    "RNA",
    "Dataset",
    "atomic_open",
    "atomic_write",
    "builtin_names",
    "decode",
    "fetch",
    "fingerprint",
    "infer_format",
    "join_obs",
    "load_builtin",
    "read_dataset",
    "read_fasta",
    "read_h5ad",
    "read_npy",
    "read_plink",
    "read_sequence_table",
    "read_table",
    "write_fasta",
    "write_table",
]
