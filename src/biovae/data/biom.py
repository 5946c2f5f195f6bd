"""BIOM reader (Biological Observation Matrix, the QIIME / Qiita table format; needs the
optional ``biom-format`` package, extra ``microbiome``).

A BIOM table is observations (taxa, OTUs) × samples, in JSON (BIOM 1.0) or HDF5 (BIOM 2.x);
``biom.load_table`` reads both. Records are the samples: x = table transposed (samples × taxa,
float32, dense), ids = sample ids, features = observation ids, obs = the sample metadata
stored in the table (if any). Counts and relative abundances are read as stored; the
likelihood's own checks (negative values, row sums) apply afterwards as for any table.
"""

from __future__ import annotations

import codecs
import json
from pathlib import Path

import numpy as np
import pandas as pd

from biovae.data._columns import check_finite, text_table_obs
from biovae.data._messages import check_gzip
from biovae.data._text import head_bytes, is_utf16, not_utf8, read_text
from biovae.data.dataset import Dataset
from biovae.errors import DataError, require


def read_biom(path: str | Path) -> Dataset:
    """Read a ``.biom`` file (JSON or HDF5) into a samples × observations :class:`Dataset`."""
    source = str(path)
    table = _load(path)
    _check_declared_shape(path, table)
    samples = np.array([str(s) for s in table.ids(axis="sample")], dtype=object)
    features = tuple(str(f) for f in table.ids(axis="observation"))
    if len(samples) == 0 or len(features) == 0:
        raise DataError(
            f"{source}: no BIOM table found ({len(features)} observations × {len(samples)} "
            "samples); check that it is a non-empty BIOM 1.0 (JSON) or 2.x (HDF5) table"
        )
    with np.errstate(over="ignore"):  # beyond float32 -> inf, reported by check_finite
        x = np.ascontiguousarray(table.matrix_data.T.toarray(), dtype=np.float32)
    check_finite(x, samples, features, source)
    return Dataset(x=x, ids=samples, features=features, obs=_sample_metadata(table), source=source)


def _load(path: str | Path):
    """``biom.load_table`` with any failure turned into one ``DataError`` line: JSON in UTF-16
    or 8-bit text is refused naming the encoding, and a UTF-8 byte-order mark is dropped."""
    biom = require("biom", "microbiome")
    head = head_bytes(path, 4096)
    if is_utf16(head):
        raise not_utf8(path, "the BIOM file")
    try:
        if head.startswith(codecs.BOM_UTF8):  # biom takes the mark for another format
            return biom.parse.parse_biom_table(read_text(path, "the BIOM file"))
        return biom.load_table(str(path))
    except DataError:
        raise
    except UnicodeDecodeError:  # JSON BIOM in Latin-1 / Windows-1252
        raise not_utf8(path, "the BIOM file") from None
    except Exception as exc:  # biom/h5py/json raise many types for corrupt or foreign files
        check_gzip(path, "the BIOM file")  # a damaged .biom.gz: zlib.error or a JSON error
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(
            f"{path}: not a readable BIOM file ({reason}); check that it is a BIOM 1.0 (JSON) "
            "or 2.x (HDF5) table, e.g. written by `biom convert`"
        ) from exc


def _check_declared_shape(path: str | Path, table) -> None:
    """A JSON BIOM's ``shape`` field must match its ``rows`` and ``columns``: biom-format
    reads the ids and ignores the field, so a table cut or edited by hand (ids dropped or
    added without the data, or the other way round) would be read without a word."""
    head = head_bytes(path, 64).lstrip(codecs.BOM_UTF8).lstrip()
    if not head.startswith(b"{"):  # HDF5 BIOM 2.x: h5py and biom check its arrays
        return
    declared = json.loads(read_text(path, "the BIOM file")).get("shape")
    found = [len(table.ids(axis="observation")), len(table.ids(axis="sample"))]
    if isinstance(declared, list) and len(declared) == 2 and declared != found:
        raise DataError(
            f"{path}: field 'shape' declares {declared[0]} observations x {declared[1]} "
            f"samples, but 'rows' lists {found[0]} and 'columns' {found[1]}; the table was "
            "cut or edited by hand: write it again from its source (e.g. with biom convert)"
        )


def _sample_metadata(table) -> dict[str, np.ndarray]:
    """The per-sample metadata as obs columns (empty when the table carries none)."""
    meta = table.metadata(axis="sample")
    if meta is None or all(m is None for m in meta):
        return {}
    frame = pd.DataFrame([dict(m or {}) for m in meta])
    return {str(c): text_table_obs(frame[c]) for c in frame.columns}
