"""Turn what a Python user passes (arrays, data frames, AnnData, Dataset) into a Dataset."""

from __future__ import annotations

import os
import warnings
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from biovae.data._columns import declared_categories, to_obs
from biovae.data._entries import check_single_entries
from biovae.data._messages import raw_counts_hint
from biovae.data.alleles import check_alleles
from biovae.data.dataset import Dataset, unique_names
from biovae.data.ondisk import open_h5ad_matrix
from biovae.data.sequences import DNA, PROTEIN, RNA
from biovae.errors import ConfigError, DataError
from biovae.setting_names import setting


def as_dataset(X: Any, obs: Any = None, *, layer: str | None = None) -> Dataset:
    """A :class:`~biovae.data.dataset.Dataset` from ``X`` and optional metadata ``obs``.

    ``X`` may be a Dataset, a numpy array or scipy sparse matrix (records × features), a pandas
    DataFrame (index = record ids), or an AnnData object (backed AnnData: ``X`` is streamed
    from its file — a view of one, ``adata[mask]``, is read into memory; ``layer`` picks a
    layer instead of ``X``; ``obs`` defaults to ``adata.obs``). ``obs`` is a dict of columns
    or a DataFrame.
    """
    if isinstance(X, Dataset):
        if obs is None:
            return X
        ids = X.ids if X.source not in _PLACEHOLDER_SOURCES else _placeholder_free(X.ids)
        columns = obs_columns(obs, len(X), ids)
        levels = {**X.categories, **_categories(obs)}
        return replace(X, obs={**X.obs, **columns}, categories=levels)
    if _is_anndata(X):
        return _from_anndata(X, obs, layer)
    if hasattr(X, "to_numpy") and hasattr(X, "columns"):
        text = [str(c) for c, kind in zip(X.columns, X.dtypes) if kind.kind not in "iufb"]
        if text:
            raise DataError(
                f"DataFrame column {text[0]!r} is not numeric; pass features as X and metadata "
                f"as obs (e.g. X=df.drop(columns=[{text[0]!r}]), obs=df[[{text[0]!r}]])"
            )
        ids = X.index.astype(str)
        named = not isinstance(X.index, pd.RangeIndex)
        return Dataset(
            X.to_numpy(dtype=np.float32),
            ids,
            tuple(X.columns),
            obs_columns(obs, len(X), ids if named else None),
            source="DataFrame",
            categories=_categories(obs),
        )
    if sp.issparse(X):
        _check_kind(X.dtype)  # scipy would drop an imaginary part with only a warning
        n, f = X.shape
        ids, features = np.arange(n).astype(str), tuple(f"f{j}" for j in range(f))
        check_single_entries(X, ids, features, "array")  # before a conversion sums repeats
        mat = sp.csr_matrix(X, dtype=np.float32)
    else:
        mat = _numbers(X)
        if mat.ndim != 2:
            raise DataError(
                f"X must be 2-D (records × features), got shape {mat.shape}"
                + (
                    "; coordinates of frames (frames × atoms × 3) are ConformationVAE's input, "
                    "which superposes them first"
                    if mat.ndim == 3 and mat.shape[-1] == 3
                    else ""
                )
            )
        n, f = mat.shape
        ids, features = np.arange(n).astype(str), tuple(f"f{j}" for j in range(f))
    return Dataset(
        mat,
        ids,
        features,
        obs_columns(obs, n),
        source="array",
        categories=_categories(obs),
    )


def _numbers(X: Any) -> np.ndarray:
    """``X`` as a float32 array, or a one-line DataError for text, complex numbers or dates
    (which numpy would refuse with its own message, or turn into numbers silently)."""
    if isinstance(X, (str, os.PathLike)):
        raise DataError(
            f"X is a file name ({str(X)!r}), not data; read it first, e.g. with "
            "biovae.data.readers.read_dataset(path), and pass what it returns"
        )
    try:
        mat = np.asarray(X)
        _check_kind(mat.dtype)
        return mat.astype(np.float32)
    except (TypeError, ValueError) as exc:
        if isinstance(exc, DataError):
            raise
        raise DataError(
            f"X is not a table of numbers ({exc}); pass the features as numbers (records × "
            "features) and metadata as obs"
        ) from None


def _check_kind(dtype: np.dtype) -> None:
    """A one-line DataError for values that are not real numbers but would cast to them."""
    if dtype.kind == "c":
        raise DataError("X holds complex numbers; pass real values (e.g. X.real or abs(X))")
    if dtype.kind in "mM":
        raise DataError(
            f"X holds dates or durations ({dtype}); pass the features as numbers (e.g. days "
            "since a reference date) and dates as obs"
        )


def without_target(obs: Any) -> Any:
    """``obs``, or None when it is scikit-learn's target ``y`` (an array, Series or list, not a
    table of columns): ``Pipeline.fit(X, y)``, ``cross_val_score`` and ``GridSearchCV`` pass it
    where biovae takes ``obs``, and the unsupervised estimators ignore it, as scikit-learn's
    transformers do."""
    array_like = hasattr(obs, "ndim") or hasattr(obs, "__array__")  # __array__ alone, too
    if isinstance(obs, (list, tuple)) or (array_like and not hasattr(obs, "columns")):
        return None
    return obs


def raw_hint(X: Any, layer: str | None) -> str:
    """For an AnnData read from ``X`` (no ``layer``) that has ``adata.raw``, the end of an
    error about values outside a likelihood's support: scanpy keeps counts there and a
    log-normalised X, which count likelihoods refuse; "" otherwise."""
    raw = getattr(X, "raw", None) if _is_anndata(X) and layer is None else None
    return f"; {raw_counts_hint(raw.n_vars)}" if raw is not None else ""


def _is_anndata(X: Any) -> bool:
    return type(X).__name__ == "AnnData" and hasattr(X, "obs") and hasattr(X, "var_names")


def _from_anndata(adata: Any, obs: Any, layer: str | None) -> Dataset:
    if layer is not None and layer not in adata.layers:
        raw = f"; {raw_counts_hint(adata.raw.n_vars)}" if adata.raw is not None else ""
        raise DataError(
            f"AnnData has no layer {layer!r} (layers: {', '.join(adata.layers) or 'none'}); "
            "pass an existing layer or None for X (a fitted model reads the layer it was fitted "
            f"on: put the counts in adata.layers[{layer!r}]){raw}"
        )
    if getattr(adata, "isbacked", False) and adata.is_view:
        # a subset of a backed file: its rows and columns are read into memory (the file's
        # matrix would be the whole file, in the file's order); to stream a subset, write it
        # to its own file (adata[mask].write_h5ad(path)) and open that backed
        adata = adata.to_memory()
    if layer is None and getattr(adata, "isbacked", False):  # X stays on disk: streamed
        mat = open_h5ad_matrix(adata.filename, names=(adata.obs_names, adata.var_names))
    else:
        mat = adata.layers[layer] if layer is not None else adata.X
        if mat is None:  # AnnData(obs=..., var=...) with its counts in a layer
            raise DataError(
                f"AnnData has no X (layers: {', '.join(adata.layers) or 'none'}); pass the "
                "layer holding the data (layer=...) or set adata.X"
            )
        where = "AnnData" if layer is None else f"AnnData layer {layer!r}"
        check_single_entries(mat, adata.obs_names, adata.var_names, where)  # as files are
        mat = (
            sp.csr_matrix(mat, dtype=np.float32)
            if sp.issparse(mat)
            else np.asarray(mat, np.float32)
        )
    ids = np.asarray(adata.obs_names)
    own = _placeholder_free(ids)  # AnnData(X) names its records 0..n−1
    columns = (
        obs_columns(adata.obs, adata.n_obs, own_rows=True)
        if obs is None
        else obs_columns(obs, len(ids), own)
    )
    levels = _categories(adata.obs if obs is None else obs)
    return Dataset(mat, ids, tuple(adata.var_names), columns, source="AnnData", categories=levels)


def _categories(obs: Any) -> dict[str, tuple[Any, ...]]:
    """The levels the categorical columns of ``obs`` (a DataFrame, or a dict holding pandas
    Categoricals or categorical Series) declare, used or not (:attr:`Dataset.categories`);
    none for no ``obs``."""
    return declared_categories(obs) if isinstance(obs, dict) or hasattr(obs, "columns") else {}


def obs_columns(
    obs: Any, n: int, ids: Any = None, *, own_rows: bool = False
) -> dict[str, np.ndarray]:
    """Metadata columns of ``n`` records. A DataFrame ``obs`` with an index of its own (not
    0..n−1) is joined on the records' ``ids`` when they have them: its rows may be in any
    order, and a record it lacks is an error; a dict, or a default index, is taken in order
    (with a warning for an index 0..n−1 out of order, unless ``own_rows``: ``obs`` is the
    records' own table, an AnnData's obs, whose rows are theirs whatever its index)."""
    if obs is None:
        return {}
    if hasattr(obs, "columns"):  # as the file readers have it (missing text = "")
        if ids is not None and not isinstance(obs.index, pd.RangeIndex):
            obs = _joined(obs, [str(i) for i in ids])
        elif not own_rows:  # an AnnData's own obs is its records' rows whatever its index
            _warn_if_reordered(obs.index)
        return {str(name): to_obs(obs[name]) for name in obs.columns}
    if isinstance(obs, dict):
        return {str(k): np.asarray(v) for k, v in obs.items()}
    raise DataError(f"obs must be a dict of columns or a DataFrame, got {type(obs).__name__}")


def _warn_if_reordered(index: pd.Index) -> None:
    """Warn when ``obs`` is paired by position but its index is 0..n−1 in another order: a
    frame sorted after the records were taken from it (pairing by position is right), or ids
    0..n−1 of the records' own (wrong), which pandas 3 gives a RangeIndex from a file's index
    column or set_index — indistinguishable from a default index, so nothing is joined."""
    if len(index) < 2 or isinstance(index, pd.MultiIndex) or not str(index[0]).isdigit():
        return  # (cheap: a million barcodes are not converted to text and compared)
    text = np.asarray(index.astype(str))
    order = np.arange(len(text)).astype(str)
    if not np.array_equal(text, order) and set(text) == set(order):
        warnings.warn(
            "obs is paired with the records by position although its index is 0..n−1 in "
            "another order: such an index cannot be told from a default one. If it names the "
            "records (not rows of a frame sorted after X was taken from it), give the records "
            "ids of their own (e.g. strings) or reorder obs to match",
            UserWarning,
            stacklevel=4,
        )


#: Dataset sources whose ids may be placeholders (0..n−1) rather than the records' own
_PLACEHOLDER_SOURCES = ("array", "DataFrame", "AnnData")


def _placeholder_free(ids: Any) -> Any:
    """``ids``, or None when they are the placeholders 0..n−1 that AnnData(X), arrays and
    data frames with a default index get: records so named are matched by position, as a
    RangeIndex is. Ids read from a file are the records' own and are always used."""
    text = np.asarray(ids).astype(str)
    return None if np.array_equal(text, np.arange(len(text)).astype(str)) else ids


def _joined(obs: Any, ids: list[str]) -> Any:
    """The rows of ``obs`` for ``ids``, in their order (matched on the index as text)."""
    index = obs.index.astype(str)
    if list(index) == ids:
        return obs
    if not index.is_unique:
        raise DataError(
            f"obs index repeats record id {index[index.duplicated()][0]!r}; give each record "
            "one metadata row"
        )
    known = set(index)
    missing = [i for i in ids if i not in known]
    if missing:
        raise DataError(
            f"obs has no row for record {missing[0]!r} ({len(missing)} of {len(ids)} records "
            "missing); index obs by the records' ids, or pass it in their order with a default "
            "index (obs.reset_index(drop=True))"
        )
    return obs.set_axis(index).loc[ids]


def check_features(ds: Dataset, schema: Any, what: str = "the model") -> None:
    """``ds`` has the features ``schema`` (a fitted model's) was fitted on: the same shape and,
    where both sides name their columns, the same names in the same order, and for genotype
    dosages where both sides know the alleles, the same allele counted at each variant. Bare
    arrays (no names) are matched by position, and so are sequences (their positions are
    checked by the alignment's length and alphabet, which must be the model's)."""
    where = ds.source or "data"
    if tuple(ds.x.shape[1:]) != tuple(schema.data_shape):
        raise DataError(
            f"{where}: records have shape {tuple(ds.x.shape[1:])} but {what} was fitted on "
            f"{tuple(schema.data_shape)}{_name_changes(ds, schema, what)}; use data with "
            f"{what}'s features"
        )
    same = ds.alphabet == schema.alphabet or _dna_and_rna(ds, schema.alphabet)
    if not same:  # DNA codes read as protein ones would be other letters
        raise DataError(
            f"{where}: the records are {_letters(ds.alphabet)} but {what} was fitted on "
            f"{_letters(schema.alphabet)}; give records of the same kind, in the same alphabet"
            # peptides of nucleotide letters only (GATTACA) are detected as DNA
            + f" (proteins? read them with {setting('data.alphabet', 'protein')})"
            * (schema.alphabet == PROTEIN and ds.alphabet is not None)
        )
    # a model saved before repeated names were made unique holds them as they were
    ours, theirs = tuple(ds.features), unique_names(schema.features, what, warn=False)
    named = schema.alphabet is None and not (made_up_names(ours) or made_up_names(theirs))
    diff = [i for i, (a, b) in enumerate(zip(ours, theirs)) if a != b] if named else []
    if diff:
        i = diff[0]
        raise DataError(
            f"{where}: feature {i + 1} is {ours[i]!r} where {what} has {theirs[i]!r} "
            f"({len(diff)} differ); select and order the features as in {what}'s training data"
            + (" (adata[:, model.schema_.features])" if ds.source == "AnnData" else "")
        )
    check_alleles(ds, schema.alleles, what)  # genotype dosages: the same allele counted


def _name_changes(ds: Dataset, schema: Any, what: str) -> str:
    """The first named feature ``ds`` has and the model lacks, and the other way round (e.g.
    an allele unseen in training), or '' when the columns are unnamed or sequence positions."""
    ours, theirs = tuple(ds.features), tuple(schema.features)
    if schema.alphabet is not None or made_up_names(ours) or made_up_names(theirs):
        return ""
    known, given = set(theirs), set(ours)
    new = [f for f in ours if f not in known]
    gone = [f for f in theirs if f not in given]
    parts = [f"{len(new)} feature(s) not in {what}, e.g. {new[0]!r}"] if new else []
    parts += [f"{len(gone)} of its feature(s) absent, e.g. {gone[0]!r}"] if gone else []
    return f" ({'; '.join(parts)})" if parts else ""


def _dna_and_rna(ds: Dataset, alphabet: str | None) -> bool:
    """Whether ``ds`` and ``alphabet`` are DNA and RNA (either way round) and no record holds
    T or U: such records (an RNA model's queries without U, read as DNA since detection never
    picks RNA without a U) are the same letters in both, as the two alphabets share every code
    but T's and U's."""
    if {ds.alphabet, alphabet} != {DNA, RNA}:
        return False
    return not np.any(np.asarray(ds.x) == DNA.index("T"))


def _letters(alphabet: str | None) -> str:
    return "values (no alphabet)" if alphabet is None else f"sequences over {alphabet!r}"


def made_up_names(features: tuple[str, ...]) -> bool:
    """Column names made up for a bare array (``f0, f1, …``) or a ``.npy`` file (``0, 1, …``)."""
    n = len(features)
    return not n or features in (tuple(f"f{j}" for j in range(n)), tuple(map(str, range(n))))


def check_records(ds: Dataset, need: int = 2) -> Dataset:
    """``ds`` if it has at least ``need`` records, and features, to fit on, else a one-line
    DataError."""
    if len(ds) < need:
        raise DataError(
            f"{ds.source or 'data'}: {len(ds)} record{'s' * (len(ds) != 1)}; fitting needs at "
            f"least {need}"
        )
    if not ds.x.shape[1]:  # a model of nothing would fit, embed and score without complaint
        raise DataError(
            f"{ds.source or 'data'}: the records have no features (shape {tuple(ds.x.shape)}); "
            "pass at least one feature column"
        )
    return ds


def sample_count(n: Any, record_bytes: int = 0) -> int:
    """``n`` as a number of samples to draw (a positive whole number) of ``record_bytes``
    each: a draw that could not fit in the memory available (twice the samples: they are
    decoded in pieces, then joined) is a one-line error, not an allocation failure."""
    if isinstance(n, bool) or not float(n).is_integer() or int(n) < 1:
        raise ConfigError(f"n = {n!r} samples: ask for a positive whole number of samples")
    need, free = 2 * int(n) * record_bytes, available_memory()
    if free is not None and need > free:
        raise ConfigError(
            f"n = {int(n):,} samples need about {need / 2**30:.1f} GiB of memory, more than the "
            f"{free / 2**30:.1f} GiB available; draw fewer at a time (another seed for each)"
        )
    return int(n)


def available_memory() -> int | None:
    """Bytes of memory available to new allocations (Linux's MemAvailable; None elsewhere)."""
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            fields = dict(line.split(":", 1) for line in fh if ":" in line)
        return int(fields["MemAvailable"].split()[0]) * 1024
    except (OSError, KeyError, ValueError):
        return None
