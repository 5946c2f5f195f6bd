"""Memorisation and novelty of generated records: are samples new, or copies of training data?

The distance to the closest record (DCR) of each sample in the training set is compared with
the same distance for held-out records, which the model never saw: a model that generalises
produces samples about as far from the training set as fresh data are, while a model that
memorised produces samples closer (copies, or near-copies) than fresh data ever are.

* ``exact_copies``: share of samples identical to a training record;
* ``closer_than_holdout``: share of samples whose DCR is below the ``q``-quantile (default
  5 %) of the held-out records' DCRs — about ``q`` when samples are as novel as fresh data;
* ``chance_limit``: the share that samples as novel as fresh data would exceed only 1 % of the
  time — the cut is itself an estimate from m held-out records, so the share below it is
  beta-binomial (the fresh-data mass below the order statistic at q (m − 1) + 1 is
  Beta(q (m − 1) + 1, m − q (m − 1)), then N samples fall below it): about ``2 q`` or less for
  hundreds of held-out records, far more for a few dozen;
* a one-line verdict when that share exceeds both ``2 q`` and ``chance_limit``, or any exact
  copy exists; when a share
  ``q`` or more of the held-out records are themselves training records (``holdout_copies``:
  the held-out file overlaps the training data), the ``q``-quantile is 0, near-copies cannot
  be told from fresh data, and the verdict says so instead of passing the samples; when the
  training set given is known not to be the data the model was fitted on
  (``train_is_fitted_data`` False: a wrong or swapped file), distances to it audit nothing,
  and the verdict says so too.

Distances: sequences (integer codes) use the Hamming distance (share of differing positions,
gaps count as letters); tables use the Euclidean distance — on log1p when every value of
both sides is ≥ 0 (counts, abundances, genotypes), on the raw values otherwise — over the
features that both records have (NaN = missing, scaled up to all features). Computed in
blocks of query records against a reference prepared once; sparse matrices stay sparse (only
a block of query rows is made dense), so memory stays bounded by the data plus ``block`` ×
training rows.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.stats import betabinom

from biovae.errors import DataError

BLOCK = 512


def nearest_distances(
    queries: np.ndarray,
    reference: np.ndarray,
    sequences: bool,
    block: int = BLOCK,
    log_scale: bool | None = None,
) -> np.ndarray:
    """Distance of every query record to its closest ``reference`` record; tables on the log1p
    scale when ``log_scale`` (default: when every value of both is >= 0).

    Sparse matrices stay sparse: the reference is prepared once (log1p of its stored values,
    squared row norms; sequences one-hot as a sparse matrix) and only ``block`` query rows at a
    time are made dense, so memory is the inputs plus ``block`` × reference rows."""
    _check_layout(queries, reference)
    log = non_negative(queries, reference) if log_scale is None else log_scale
    return _nearest(queries, _prepared(reference, sequences, log, (queries, reference)), block)


def _check_layout(queries, reference) -> None:
    if queries.shape[1:] != reference.shape[1:]:
        raise DataError(
            f"records have {_width(queries)} features but the reference has {_width(reference)}; "
            "compare records of the same layout"
        )


def _prepared(reference, sequences: bool, log: bool, coded: tuple) -> _Hamming | _Euclidean:
    """The distance to ``reference``, prepared once for any number of query sets (``coded``:
    every array whose letter codes the one-hot must cover)."""
    if sequences:
        return _Hamming(reference, 1 + int(max(_max(x) for x in coded)))
    return _Euclidean(reference, log)


def _nearest(queries, distance: _Hamming | _Euclidean, block: int = BLOCK) -> np.ndarray:
    out = np.empty(queries.shape[0])
    for start in range(0, len(out), block):
        out[start : start + block] = distance(queries[start : start + block]).min(1)
    return out


def non_negative(*arrays: np.ndarray) -> bool:
    """Whether every value of every array is >= 0 (missing values aside)."""
    return all(np.nanmin(_values(a), initial=0.0) >= 0 for a in arrays)


def exact_copies(samples: np.ndarray, train: np.ndarray) -> np.ndarray:
    """Whether each sample equals some training record value for value (NaN equal to NaN,
    -0 equal to 0), in the samples' precision when they are floats (a float32 sample copies a
    float64 record that rounds to it), else in a type holding both sides (integer samples
    are never matched against truncated fractional records). When either side is sparse
    both are compared as canonical sparse rows (stored columns and values), so a sparse
    training matrix is never made dense."""
    floats = np.issubdtype(samples.dtype, np.inexact)
    dtype = samples.dtype if floats else np.result_type(samples.dtype, train.dtype)
    if not (sp.issparse(samples) or sp.issparse(train)):
        s, t = (_canonical(np.asarray(x), dtype) for x in (samples, train))
        seen = {row.tobytes() for row in t}
        return np.array([row.tobytes() in seen for row in s], dtype=bool)
    seen = set(_sparse_rows(train, dtype))
    return np.array([row in seen for row in _sparse_rows(samples, dtype)], dtype=bool)


def _canonical(x: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """``x`` as contiguous ``dtype`` with one byte pattern per value: a float's -0 as 0 and
    every NaN as the same NaN (equal values must have equal bytes)."""
    x = np.ascontiguousarray(x, dtype=dtype)
    if np.issubdtype(dtype, np.inexact):
        x = np.where(np.isnan(x), np.nan, x + 0)  # -0.0 + 0 is +0.0
    return x


def _sparse_rows(x, dtype: np.dtype):
    """Each row of ``x`` as hashable bytes of its stored columns and values (zeros dropped)."""
    m = sp.csr_matrix(x.reshape(x.shape[0], -1) if not sp.issparse(x) else x, dtype=dtype)
    m.eliminate_zeros()
    m.sort_indices()
    for i in range(m.shape[0]):
        lo, hi = m.indptr[i], m.indptr[i + 1]
        yield m.indices[lo:hi].tobytes() + b"|" + m.data[lo:hi].tobytes()


def _width(x) -> int:
    return int(np.prod(x.shape[1:]))


def _values(x) -> np.ndarray:
    """The values to check of a dense or sparse array (a sparse one's stored values; its
    implicit zeros are >= 0 and finite)."""
    return np.asarray(x.data if sp.issparse(x) else x)


def _max(x) -> float:
    return float(np.max(_values(x), initial=0.0))


def _dense(x) -> np.ndarray:
    return np.asarray(x.toarray() if sp.issparse(x) else x)


def _one_hot(x, letters: int) -> sp.csr_matrix:
    """Integer codes (n, L) as a sparse one-hot matrix (n, L · letters), float32 (match counts
    are small integers, exact in float32)."""
    codes = _dense(x).reshape(x.shape[0], -1)
    n, length = codes.shape
    index = np.int32 if max(n, letters) * length < 2**31 else np.int64
    cols = (np.arange(length, dtype=index) * letters + codes.astype(index)).ravel()
    indptr = np.arange(0, n * length + 1, length, dtype=index)
    ones = np.ones(n * length, dtype=np.float32)
    return sp.csr_matrix((ones, cols, indptr), shape=(n, length * letters))


class _Hamming:
    """Share of differing positions (gaps count as letters) of query blocks to a reference
    held as a sparse one-hot matrix: the matches of every pair are one product."""

    def __init__(self, reference, letters: int) -> None:
        self.ref = _one_hot(reference, letters)
        self.letters = letters
        self.length = max(_width(reference), 1)

    def __call__(self, queries) -> np.ndarray:
        part = _one_hot(queries, self.letters).toarray()
        matches = np.asarray(self.ref @ part.T, dtype=np.float64).T  # exact whole numbers
        return (self.length - matches) / self.length  # k mismatches: exactly k / L


class _Euclidean:
    """Euclidean distances of query blocks to a reference prepared once: over the features
    observed in both, scaled by all / observed (NaN-aware); on log1p values when ``log``."""

    def __init__(self, reference, log: bool) -> None:
        r = _scaled(reference, log)
        # dense values are centred on the reference's means: |a|² + |b|² − 2 a·b loses every
        # digit of a small distance between records far from 0 (values near 10⁶ gave 4 for 0.5)
        self.centre = None if sp.issparse(r) else _column_means(r)
        if self.centre is not None:
            r = r - self.centre
        self.missing = bool(np.isnan(r.data if sp.issparse(r) else r).any())
        if self.missing:  # NaN-aware terms need dense masks
            r = _dense(r)
            self.kb = (~np.isnan(r)).astype(np.float64)
            self.b0 = np.where(self.kb > 0, r, 0.0)
        else:
            self.b0 = r
        self.b_sq = _row_sq(self.b0)
        self.log = log
        self.width = r.shape[1]

    def __call__(self, queries) -> np.ndarray:
        a = _dense(_scaled(queries, self.log))
        if self.centre is not None:
            a = a - self.centre
        ka = ~np.isnan(a)
        a0 = np.where(ka, a, 0.0)
        cross = np.asarray(self.b0 @ a0.T).T  # sparse @ dense stays a dense (block, n) array
        if self.missing:
            both, a_sq = ka.astype(np.float64) @ self.kb.T, (a0**2) @ self.kb.T
        else:  # every reference feature observed
            both, a_sq = ka.sum(1, keepdims=True), (a0**2).sum(1, keepdims=True)
        b_sq = self.b_sq[None] if ka.all() else np.asarray(_squared(self.b0) @ ka.T).T
        sq = a_sq + b_sq - 2.0 * cross
        return np.sqrt(np.clip(sq, 0.0, None) * self.width / np.maximum(both, 1.0))


def _scaled(x, log: bool):
    """``x`` as float64 (n, features), dense or CSR, on the log1p scale when ``log``."""
    if sp.issparse(x):
        m = sp.csr_matrix(x, dtype=np.float64, copy=True)
        if log:
            m.data = np.log1p(m.data)
        return m
    a = np.asarray(x, dtype=np.float64).reshape(x.shape[0], -1)
    return np.log1p(a) if log else a


def _column_means(r: np.ndarray) -> np.ndarray:
    """Mean of each column over its observed values (0 for a column with none)."""
    seen = ~np.isnan(r)
    return np.where(seen, r, 0.0).sum(0) / np.maximum(seen.sum(0), 1)


def _squared(x):
    """Element-wise square of a dense or sparse matrix."""
    return x.multiply(x).tocsr() if sp.issparse(x) else x**2


def _row_sq(x) -> np.ndarray:
    """Sum of squares of each row of a dense or sparse matrix."""
    return np.asarray(_squared(x).sum(1)).ravel()


def memorisation_audit(
    samples: np.ndarray,
    train: np.ndarray,
    holdout: np.ndarray,
    sequences: bool,
    quantile: float = 0.05,
    train_is_fitted_data: bool | None = None,
) -> dict[str, Any]:
    """DCR of samples and of held-out records to the training set, and the verdict
    (``train_is_fitted_data``: whether ``train`` is known to be the model's training data,
    e.g. by its data fingerprint; None: not known)."""
    if holdout.shape[0] < 20:
        raise DataError(
            f"the held-out set has {holdout.shape[0]} records; give at least 20 records the model "
            "was not trained on, so that its distances to the training set have a quantile"
        )
    for queries in (samples, holdout):
        _check_layout(queries, train)
    log = not sequences and non_negative(samples, train, holdout)  # one scale for both sides
    distance = _prepared(train, sequences, log, (samples, train, holdout))  # once for both
    copies = exact_copies(samples, train)
    d_s = np.where(copies, 0.0, _nearest(samples, distance))
    held = exact_copies(holdout, train)  # distance 0 exactly, whatever the rounding
    d_h = np.where(held, 0.0, _nearest(holdout, distance))
    cut = float(np.quantile(d_h, quantile))
    exact = float(np.mean(copies))
    closer = float(np.mean(d_s < cut)) if cut > 0 else exact
    held_copies = float(np.mean(held))
    h, m = quantile * (len(d_h) - 1) + 1, len(d_h)  # the cut's (1-based) order statistic
    limit = float(betabinom(len(d_s), h, m + 1 - h).ppf(0.99)) / len(d_s)
    out = {
        "metric": "hamming" if sequences else "euclidean",
        "samples": len(d_s),
        "holdout": len(d_h),
        "quantile": quantile,
        "holdout_cut": cut,
        "exact_copies": exact,
        "closer_than_holdout": closer,
        "chance_limit": limit,
        "holdout_copies": held_copies,
        "train_is_fitted_data": train_is_fitted_data,
        "dcr_samples": _quantiles(d_s),
        "dcr_holdout": _quantiles(d_h),
    }
    out["verdict"] = _verdict(out)
    return out


def _quantiles(d: np.ndarray) -> dict[str, float]:
    return {f"q{int(q * 100):02d}": float(np.quantile(d, q)) for q in (0.01, 0.05, 0.5, 0.95)}


def _verdict(a: dict[str, Any]) -> str:
    q = a["quantile"]
    if a.get("train_is_fitted_data") is False:
        return (
            "the training set given is not the data the model was fitted on (its data "
            "fingerprint differs from the model's), so closeness to it says nothing of "
            "memorisation: no verdict; give the model's training file, read as when fitting"
        )
    if a["exact_copies"] > 0:
        return (
            f"{a['exact_copies']:.1%} of the samples are exact copies of training records: "
            "the model reproduces its training data; do not release these samples as new"
        )
    limit = max(2 * q, a["chance_limit"])
    chance = f"at most {limit:.1%} would by chance with {a['holdout']} held-out records"
    if a["closer_than_holdout"] > limit:
        return (
            f"{a['closer_than_holdout']:.1%} of the samples lie closer to a training record "
            f"than {q:.0%} of fresh held-out records do ({chance}): signs of memorisation; "
            "check the closest pairs before releasing samples"
        )
    if a["holdout_cut"] <= 0:
        return (
            f"{a['holdout_copies']:.1%} of the held-out records are training records (or their "
            f"exact copies), so the held-out {q:.0%} quantile is 0 and near-copies cannot be "
            "told from fresh data: no verdict; give held-out records the model was not "
            "trained on"
        )
    share = a["closer_than_holdout"]
    return (
        f"samples are as far from the training records as fresh data ({share:.1%} closer "
        f"than the held-out {q:.0%} quantile; {chance}): no sign of memorisation"
    )
