"""Memorisation and novelty of generated records: are samples new, or copies of training data?

The distance to the closest record (DCR) of each sample in the training set is compared with
the same distance for held-out records, which the model never saw: a model that generalises
produces samples about as far from the training set as fresh data are, while a model that
memorised produces samples closer (copies, or near-copies) than fresh data ever are.

* ``exact_copies``: share of samples identical to a training record;
* ``closer_than_holdout``: share of samples whose DCR is below the ``q``-quantile (default
  5 %) of the held-out records' DCRs — about ``q`` when samples are as novel as fresh data;
* a one-line verdict when that share exceeds ``2 q`` or any exact copy exists; when a share
  ``q`` or more of the held-out records are themselves training records (``holdout_copies``:
  the held-out file overlaps the training data), the ``q``-quantile is 0, near-copies cannot
  be told from fresh data, and the verdict says so instead of passing the samples.

Distances: sequences (integer codes) use the Hamming distance (share of differing positions,
gaps count as letters); tables use the Euclidean distance — on log1p when every value of
both sides is ≥ 0 (counts, abundances, genotypes), on the raw values otherwise — over the
features that both records have (NaN = missing, scaled up to all features). Computed in
blocks, so memory stays bounded by ``block`` × training rows.
"""

from __future__ import annotations

from typing import Any

import numpy as np

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
    scale when ``log_scale`` (default: when every value of both is >= 0)."""
    q, r = _dense(queries), _dense(reference)
    if sequences:
        q, r = q.astype(np.int16), r.astype(np.int16)
    else:  # one scale for both sides
        q, r = q.astype(np.float64), r.astype(np.float64)
        if non_negative(q, r) if log_scale is None else log_scale:
            q, r = np.log1p(q), np.log1p(r)
    if q.shape[1] != r.shape[1]:
        raise DataError(
            f"records have {q.shape[1]} features but the reference has {r.shape[1]}; "
            "compare records of the same layout"
        )
    if sequences:  # one-hot: matches per pair are one matrix product
        letters = int(max(q.max(initial=0), r.max(initial=0))) + 1
        q, r = (np.eye(letters, dtype=np.float32)[x].reshape(len(x), -1) for x in (q, r))
    out = np.empty(len(q))
    for start in range(0, len(q), block):
        part = q[start : start + block]
        d = _hamming(part, r) if sequences else _euclidean(part, r)
        out[start : start + block] = d.min(1)
    return out


def non_negative(*arrays: np.ndarray) -> bool:
    """Whether every value of every array is >= 0 (missing values aside)."""
    return all(np.nanmin(_dense(a).astype(np.float64), initial=0.0) >= 0 for a in arrays)


def exact_copies(samples: np.ndarray, train: np.ndarray) -> np.ndarray:
    """Whether each sample equals some training record value for value (NaN equal to NaN)."""
    s, t = (np.ascontiguousarray(_dense(x)) for x in (samples, train))
    seen = {row.tobytes() for row in t.astype(s.dtype)}
    return np.array([row.tobytes() in seen for row in s], dtype=bool)


def _dense(x) -> np.ndarray:
    return np.asarray(x.toarray() if hasattr(x, "toarray") else x)


def _hamming(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Share of differing positions between one-hot rows (L positions of A letters each);
    exact, as the match counts are small integers in float32."""
    length = a.sum(1, keepdims=True)
    return 1.0 - (a @ b.T) / length


def _euclidean(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Over features observed in both, scaled by all / observed (NaN-aware)."""
    ka, kb = ~np.isnan(a), ~np.isnan(b)
    a0, b0 = np.where(ka, a, 0.0), np.where(kb, b, 0.0)
    both = ka.astype(np.float64) @ kb.T.astype(np.float64)
    sq = (a0**2) @ kb.T + ka @ (b0**2).T - 2.0 * a0 @ b0.T
    scaled = np.clip(sq, 0.0, None) * a.shape[1] / np.maximum(both, 1.0)
    return np.sqrt(scaled)


def memorisation_audit(
    samples: np.ndarray,
    train: np.ndarray,
    holdout: np.ndarray,
    sequences: bool,
    quantile: float = 0.05,
) -> dict[str, Any]:
    """DCR of samples and of held-out records to the training set, and the verdict."""
    if holdout.shape[0] < 20:
        raise DataError(
            f"the held-out set has {holdout.shape[0]} records; give at least 20 records the model "
            "was not trained on, so that its distances to the training set have a quantile"
        )
    copies = exact_copies(samples, train)
    log = not sequences and non_negative(samples, train, holdout)  # one scale for both sides
    d_s = np.where(copies, 0.0, nearest_distances(samples, train, sequences, log_scale=log))
    d_h = nearest_distances(holdout, train, sequences, log_scale=log)
    cut = float(np.quantile(d_h, quantile))
    exact = float(np.mean(copies))
    closer = float(np.mean(d_s < cut)) if cut > 0 else exact
    held_copies = float(np.mean(exact_copies(holdout, train)))
    out = {
        "metric": "hamming" if sequences else "euclidean",
        "samples": len(d_s),
        "holdout": len(d_h),
        "quantile": quantile,
        "holdout_cut": cut,
        "exact_copies": exact,
        "closer_than_holdout": closer,
        "holdout_copies": held_copies,
        "dcr_samples": _quantiles(d_s),
        "dcr_holdout": _quantiles(d_h),
    }
    out["verdict"] = _verdict(out)
    return out


def _quantiles(d: np.ndarray) -> dict[str, float]:
    return {f"q{int(q * 100):02d}": float(np.quantile(d, q)) for q in (0.01, 0.05, 0.5, 0.95)}


def _verdict(a: dict[str, Any]) -> str:
    q = a["quantile"]
    if a["exact_copies"] > 0:
        return (
            f"{a['exact_copies']:.1%} of the samples are exact copies of training records: "
            "the model reproduces its training data; do not release these samples as new"
        )
    if a["closer_than_holdout"] > 2 * q:
        return (
            f"{a['closer_than_holdout']:.1%} of the samples lie closer to a training record "
            f"than {q:.0%} of fresh held-out records do: signs of memorisation; check the "
            "closest pairs before releasing samples"
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
        f"than the held-out {q:.0%} quantile): no sign of memorisation"
    )
