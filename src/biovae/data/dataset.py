"""The in-memory data set every reader returns: an array plus record ids and metadata."""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from biovae.data._messages import preview
from biovae.data.ondisk import RowStore
from biovae.errors import DataError, warn_at_caller

Matrix = np.ndarray | sp.csr_matrix | RowStore


@dataclass(frozen=True, eq=False)
class Dataset:
    """Observations as a matrix, with record ids, feature names and per-record metadata.

    Parameters
    ----------
    x
        ``(n, f)`` data. Tables and counts: float32, dense or ``scipy.sparse.csr_matrix``
        (sparse input is kept sparse), or a :class:`~biovae.data.ondisk.RowStore` left on disk
        and read in blocks (data larger than memory). Sequences: uint8 codes ``(n, L)``
        indexing ``alphabet``.
    ids
        ``(n,)`` unique record ids (stored as an object array of ``str``).
    features
        ``f`` feature names, or for sequences ``L`` position labels (``"1"..."L"`` or residue
        numbers of the first/focus sequence).
    obs
        Metadata columns, each of length ``n``: object arrays of ``str`` (``""`` = missing)
        or float64 arrays (NaN = missing).
    alphabet
        Set for sequences, e.g. ``"ACGT-"``; ``x[i, j]`` is the index of the letter in it.
    source
        File path or data set name, used in error messages.
    alleles
        Genotype dosages (PLINK, VCF): per feature the pair ``(counted, other)`` of alleles,
        the counted one being the allele whose copies ``x`` holds (PLINK's A1, a VCF's ALT;
        ``"0"``/``"."`` unknown); ``()`` when the data carry no alleles (tables, sequences).
    categories
        Per categorical ``obs`` column (a pandas category, as anndata stores text), the levels
        its dtype declares, used or not (spelled as ``obs`` spells them, or numbers when the
        categories are numbers): a fixed vocabulary or an R factor's levels may name levels no
        record holds. ``{}`` when none are known.

    Notes
    -----
    Inputs are normalised on construction: ``ids`` become ``str``, ``features`` a tuple of
    ``str``, numeric ``x`` float32 (other sparse formats become CSR) and sequence codes uint8.
    """

    x: Matrix
    ids: np.ndarray
    features: tuple[str, ...]
    obs: dict[str, np.ndarray]
    alphabet: str | None = None
    source: str = ""
    alleles: tuple[tuple[str, str], ...] = ()
    categories: dict[str, tuple[Any, ...]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "x", _normalise_x(self.x, self.alphabet, self.source))
        set_(self, "ids", np.asarray([str(i) for i in np.asarray(self.ids).ravel()], dtype=object))
        set_(self, "features", unique_names(self.features, self.source or "dataset"))
        set_(self, "obs", {str(k): np.asarray(v) for k, v in dict(self.obs).items()})
        set_(self, "alleles", _allele_pairs(self.alleles, self.source or "dataset"))
        set_(self, "categories", {str(k): tuple(v) for k, v in dict(self.categories).items()})
        self._validate()

    def _validate(self) -> None:
        n, f = self.x.shape
        where = self.source or "dataset"
        if len(self.ids) != n:
            raise DataError(f"{where}: {len(self.ids)} ids for {n} records; pass one id per row")
        if len(self.features) != f:
            raise DataError(
                f"{where}: {len(self.features)} feature names for {f} columns; "
                "pass one name per column"
            )
        if self.alleles and len(self.alleles) != f:
            raise DataError(
                f"{where}: {len(self.alleles)} allele pairs for {f} columns; "
                "pass one (counted, other) pair per column, or none"
            )
        for name, col in self.obs.items():
            if col.ndim != 1 or len(col) != n:
                raise DataError(
                    f"{where}: metadata column '{name}' has shape {col.shape}, expected ({n},); "
                    "give one value per record"
                )
        check_unique_ids(self.ids, where)

    def __len__(self) -> int:
        return int(self.x.shape[0])

    @property
    def n_obs(self) -> int:
        """Number of records (rows of ``x``)."""
        return int(self.x.shape[0])

    @property
    def n_features(self) -> int:
        """Number of features or sequence positions (columns of ``x``)."""
        return int(self.x.shape[1])

    @property
    def is_sparse(self) -> bool:
        """Whether ``x`` is a CSR sparse matrix."""
        return sp.issparse(self.x)

    def subset(self, idx: np.ndarray) -> Dataset:
        """Select records (rows) by integer index or boolean mask.

        Parameters
        ----------
        idx
            Integer positions or a boolean mask of length ``n``.

        Returns
        -------
        Dataset
            A new data set with the chosen rows, in the given order; rows of a matrix left
            on disk stay there (:meth:`~biovae.data.ondisk.RowStore.subset`).
        """
        idx = np.asarray(idx)
        if idx.dtype == bool:
            if idx.shape != (self.n_obs,):
                raise DataError(
                    f"{self.source or 'dataset'}: boolean mask has shape {idx.shape}, "
                    f"expected ({self.n_obs},)"
                )
            idx = np.flatnonzero(idx)
        idx = idx.astype(np.intp, copy=False).ravel()
        return Dataset(
            x=self.x.subset(idx) if isinstance(self.x, RowStore) else self.x[idx],
            ids=self.ids[idx],
            features=self.features,
            obs={k: v[idx] for k, v in self.obs.items()},
            alphabet=self.alphabet,
            source=self.source,
            alleles=self.alleles,
            categories=self.categories,
        )

    def obs_column(self, name: str) -> np.ndarray:
        """Return the metadata column ``name``.

        Raises
        ------
        DataError
            If there is no such column; the message lists the available ones.
        """
        if name not in self.obs:
            raise DataError(
                f"{self.source or 'dataset'}: no metadata column '{name}'; "
                f"available columns: {preview(self.obs)}"
            )
        return self.obs[name]


def check_unique_ids(ids: np.ndarray, source: str) -> None:
    """Raise a ``DataError`` naming the first repeated id (in file order)."""
    dup = pd.Index(ids).duplicated()
    if dup.any():
        first = ids[int(np.argmax(dup))]
        raise DataError(
            f"{source}: duplicate record id '{first}'; record ids must be unique "
            "(rename or drop the repeated records; an AnnData: adata.obs_names_make_unique())"
        )


def _allele_pairs(alleles: Any, where: str) -> tuple[tuple[str, str], ...]:
    """``alleles`` as (counted, other) pairs of text, or a one-line DataError."""
    try:
        return tuple((str(c), str(o)) for c, o in alleles)
    except (TypeError, ValueError):
        raise DataError(
            f"{where}: alleles must be (counted, other) pairs, one per column, e.g. "
            "(('A', 'G'), ...)"
        ) from None


def _normalise_x(x: object, alphabet: str | None, source: str) -> Matrix:
    """Coerce ``x`` to the storage the contract promises and check it is 2-D."""
    where = source or "dataset"
    if isinstance(x, RowStore):  # streamed from disk: read block by block, never here
        if alphabet is not None:
            raise DataError(f"{where}: sequences cannot be streamed from disk; read them whole")
        return x
    if sp.issparse(x):
        if alphabet is not None:
            raise DataError(f"{where}: sequence codes must be a dense array, got a sparse matrix")
        x = sp.csr_matrix(x, dtype=np.float32)
    else:
        x = np.asarray(x)
    if x.ndim != 2:
        raise DataError(
            f"{where}: data must be 2-D (records x features), got shape {x.shape}; "
            "reshape it or pick a 2-D array"
        )
    if alphabet is None:
        return x if sp.issparse(x) else np.ascontiguousarray(x, dtype=np.float32)
    return _sequence_codes(x, alphabet, where)


def _sequence_codes(x: np.ndarray, alphabet: str, where: str) -> np.ndarray:
    """Check that integer codes index ``alphabet`` and store them as uint8."""
    if not np.issubdtype(x.dtype, np.integer):
        raise DataError(f"{where}: sequence codes must be integers, got dtype {x.dtype}")
    if x.size and (x.min() < 0 or x.max() >= len(alphabet)):
        raise DataError(
            f"{where}: sequence codes must lie in 0..{len(alphabet) - 1} "
            f"(alphabet '{alphabet}'), got {x.min()}..{x.max()}"
        )
    return np.ascontiguousarray(x, dtype=np.uint8)


def unique_names(names: Any, where: str, warn: bool = True) -> tuple[str, ...]:
    """Feature names as text, each once: a repeated name's later copies become ``name-1``,
    ``name-2``, … (anndata's ``var_names_make_unique``; gene symbols repeat in 10x files),
    with a warning, so every column keeps a name of its own in outputs and name checks."""
    out = [str(f) for f in names]
    if len(set(out)) == len(out):
        return tuple(out)
    taken, seen, first = set(out), {}, None
    for j, name in enumerate(out):
        if name in seen:
            first = first or name
            k = seen[name]
            while f"{name}-{k}" in taken:
                k += 1
            seen[name] = k + 1
            out[j] = f"{name}-{k}"
            taken.add(out[j])
        else:
            seen[name] = 1
    if not warn:
        return tuple(out)
    warn_at_caller(
        f"{where}: feature names repeat (e.g. {first!r}); later copies renamed {first}-1, … "
        "(as anndata's var_names_make_unique)",
        RenamedFeaturesWarning,
    )
    return tuple(out)


class RenamedFeaturesWarning(UserWarning):
    """Repeated feature names were renamed (:func:`unique_names`)."""


@contextlib.contextmanager
def names_already_warned() -> Iterator[None]:
    """Within it, repeated feature names are renamed without a warning: for a second reading
    of data whose names were warned of just before (a fit's transform), so one call warns
    once."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RenamedFeaturesWarning)
        yield
