"""Integration metrics for any embedding: batch mixing and conservation of biology.

All functions take an embedding ``emb`` (n, d) — posterior means, PCA scores, anything — and
per-cell labels, and return one number; :func:`integration_metrics` returns them all. The two
silhouettes follow scIB's definitions (Luecken et al. 2022, Nat. Methods 19:41). The other three are
close relatives, comparable between embeddings scored here but not number for number with
scIB's: iLISI is Harmony's LISI on Euclidean neighbours, not scIB's graph iLISI (shortest paths
on a kNN graph); kBET is one test per cell over all cells with a fixed k, not scIB's kBET per
cell type with an adapted k (and the neighbourhood leaves the cell out, where the kBET package
counts the cell and its k − 1 neighbours); ARI/NMI use k-means, not scIB's Louvain/Leiden over
resolutions. These three are what scib-metrics computes with ``ilisi_knn`` (90 neighbours
counting the cell), ``kbet`` and ``nmi_ari_cluster_labels_kmeans`` (whose own k-means may stop
in another local optimum).

**Batch mixing** (higher = better mixed, all in [0, 1]):

* *batch ASW*: silhouette width s_i of each cell computed with the batches as clusters, within
  each cell-type group (all cells form one group without labels); per group the mean of
  1 − |s_i|, then the mean over groups. Groups with a single batch are skipped.
* *iLISI* (Korsunsky et al. 2019): the inverse Simpson index 1 / Σ_b p_b² of the batch
  distribution among a cell's 3·perplexity − 1 nearest neighbours (the cell itself excluded),
  weighted by the kernel exp(−β_i d) of their Euclidean distances d, β_i set per cell to reach
  the given perplexity (as in Harmony's LISI code). It ranges from 1
  (one batch) to B (even mix of B batches); reported as the median, and scaled
  (median − 1) / (B − 1).
* *kBET acceptance* (Büttner et al. 2019): for each cell a χ² test of the batch counts of
  its k nearest neighbours (itself excluded) against the global batch frequencies; the share of
  cells whose test is *not* rejected at level α.

**Biology conservation** (higher = better):

* *label ASW*: (mean silhouette with the cell types as clusters + 1) / 2.
* *cLISI* (scIB's bio-conservation LISI): the same LISI on the cell types, from 1 (every
  neighbourhood one type: best) to L (L types evenly mixed); the median, and scaled as scIB
  does, (L − median) / (L − 1), so 1 = best.
* *ARI* and *NMI* of a k-means clustering (k = number of cell types, 10 restarts, fixed seed)
  against the cell types.

Neighbours are exact Euclidean neighbours; scikit-learn (extra ``report``) is needed. The
silhouettes compare every pair of records (time ∝ n²) a block of rows at a time, and the
neighbour searches use trees or blocks, so memory grows with n, not n².
"""

from __future__ import annotations

from typing import Any

import numpy as np

from biovae.diagnostics.silhouette import silhouette_samples
from biovae.errors import ConfigError, DataError, require
from biovae.levels import MISSING, level_text

#: Perplexity of the LISI kernel (as in Harmony and scIB); the neighbourhood is 3× larger.
LISI_PERPLEXITY = 30.0
#: Neighbourhood size of the kBET test and significance level.
KBET_K = 50
KBET_ALPHA = 0.05
#: What each key of :func:`integration_metrics` holds (and the CLI's JSON); every metric but
#: the raw ``clisi`` is higher = better (better mixed batches, better kept cell types).
METRIC_KEYS = {
    "n_records": "records scored (those with both a batch and a label)",
    "subsampled_from": "records the random subsample was drawn from (only when subsampled)",
    "batch_asw": "mean over cell types of mean(1 - |silhouette on batches|), 0..1 (scIB); "
    "null when no cell type has two batches",
    "ilisi": "median LISI of batches (Harmony's, perplexity 30), 1 (one batch) .. B (even mix)",
    "ilisi_scaled": "(ilisi - 1) / (B - 1), 0..1",
    "kbet_acceptance": f"share of records whose {KBET_K} neighbours' batch counts pass a "
    f"chi-square test at {KBET_ALPHA}, 0..1",
    "label_asw": "(silhouette on cell types + 1) / 2, 0..1 (scIB)",
    "clisi": "median LISI of cell types, 1 (pure neighbourhoods) .. L (L types mixed); LOWER "
    "= better",
    "clisi_scaled": "(L - clisi) / (L - 1), 0..1, higher = better (scIB's cLISI)",
    "ari": "adjusted Rand index of k-means (k = number of cell types) vs the cell types, "
    "0 = chance, 1 = equal",
    "nmi": "normalised mutual information of the same k-means vs the cell types, 0..1",
}
#: Rows of the LISI kernel solved at once (each step holds a few (rows, 3·perplexity) arrays).
KERNEL_BLOCK = 8192


def _known(emb: Any, batch: Any, labels: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The records with both a batch and a label (a missing label is no cell type); each metric
    checks the embedding of those records only, so the ones left out need not be finite."""
    x = np.asarray(emb, dtype=np.float64)
    b, y = (np.asarray(v, dtype=object) for v in (batch, labels))
    for what, v in (("batch", b), ("labels", y)):
        if x.ndim != 2 or v.shape != (len(x),):
            raise DataError(f"{what} has shape {v.shape} but the embedding has shape {x.shape}")
    keep = _both_known(b, y)
    return x[keep], b[keep], y[keep]


def _both_known(b: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Which records have both a batch and a label (None, NaN and empty are missing)."""
    return (level_text(b) != MISSING) & (level_text(y) != MISSING)


def _codes(values: Any, n: int, what: str) -> tuple[np.ndarray, int]:
    """Integer codes 0..m-1 of a label vector, and the number of distinct labels m.

    Levels are compared as :func:`level_text` spells them (``1`` and ``1.0`` are one level), as
    :func:`check_groups` counts them; a missing value is an error, not a level of its own.
    """
    arr = np.asarray(values, dtype=object)
    if arr.shape != (n,):
        raise DataError(f"{what} has shape {arr.shape} but the embedding has {n} records")
    text = level_text(arr)
    n_missing = int((text == MISSING).sum())
    if n_missing:
        raise DataError(
            f"{what} has {n_missing} missing values (None, NaN or empty); drop those records "
            "first (integration_metrics leaves them out)"
        )
    _, codes = np.unique(text.astype(str), return_inverse=True)
    return codes.ravel(), int(codes.max()) + 1 if n else 0


def _embedding(emb: Any) -> np.ndarray:
    x = np.asarray(emb, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] < 3:
        raise DataError(f"the embedding must be (records, dims) with >= 3 records, got {x.shape}")
    if not np.isfinite(x).all():
        raise DataError("the embedding has NaN or infinite values; drop those records first")
    return x


def neighbours(emb: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Distances and indices (n, k) of each record's k nearest other records (self excluded)."""
    nn = require("sklearn.neighbors", "report")
    k = min(k, len(emb) - 1)
    dist, idx = nn.NearestNeighbors(n_neighbors=k + 1).fit(emb).kneighbors(emb)
    # drop the record itself; with duplicated points it need not come first, so remove by index
    is_self = idx == np.arange(len(emb))[:, None]
    drop = np.where(is_self.any(1), is_self.argmax(1), k)
    keep = np.ones_like(idx, dtype=bool)
    keep[np.arange(len(emb)), drop] = False
    return dist[keep].reshape(len(emb), k), idx[keep].reshape(len(emb), k)


def batch_asw(emb: Any, batch: Any, labels: Any = None) -> float:
    """Batch silhouette in [0, 1]: 1 = batches perfectly mixed within every cell type; NaN
    when no cell type has records of two batches (cell types confounded with batches)."""
    x = _embedding(emb)
    b, _ = _codes(batch, len(x), "batch")
    groups, _ = _codes(np.zeros(len(x)) if labels is None else labels, len(x), "labels")
    scores = []
    for g in np.unique(groups):
        sel = groups == g
        if not 2 <= len(np.unique(b[sel])) <= sel.sum() - 1:  # what a silhouette needs
            continue
        s = silhouette_samples(x[sel], b[sel])
        scores.append(float(np.mean(1.0 - np.abs(s))))
    return float(np.mean(scores)) if scores else float("nan")


def label_asw(emb: Any, labels: Any) -> float:
    """Cell-type silhouette scaled to [0, 1]: (ASW + 1) / 2; 1 = compact separated types."""
    x = _embedding(emb)
    y, m = _codes(labels, len(x), "labels")
    if m < 2:
        raise DataError("label silhouette needs at least two distinct labels")
    if m > len(x) - 1:  # a silhouette needs a label shared by two records
        raise DataError(
            f"label silhouette needs fewer labels than records: {m} labels for {len(x)} "
            "records; give cell types shared by several records"
        )
    return float((np.mean(silhouette_samples(x, y)) + 1.0) / 2.0)


def simpson_weights(dist: np.ndarray, perplexity: float, steps: int = 60) -> np.ndarray:
    """Row-normalised Gaussian-kernel weights exp(−β_i d) of the Euclidean neighbour distances
    ``dist`` (not squared: the kernel of Harmony's LISI and scIB), with β_i set so each row's
    perplexity exp(entropy) matches ``perplexity``.

    Bisection on log β per row (vectorised), with the distances measured in the row's largest
    shifted distance so the result does not depend on the scale of the embedding; the reference
    implementations search β by halving and doubling from β = 1 to the same root. Rows whose
    distances are all equal get uniform weights whatever β is. Solved in blocks of rows, so
    memory grows with the block, not with ``dist``.
    """
    blocks = [
        _kernel_rows(dist[i : i + KERNEL_BLOCK], perplexity, steps)
        for i in range(0, len(dist), KERNEL_BLOCK)
    ]
    return np.concatenate(blocks) if blocks else np.zeros(dist.shape)


def _kernel_rows(dist: np.ndarray, perplexity: float, steps: int) -> np.ndarray:
    d = dist - dist.min(1, keepdims=True)  # shift for stability; weights unchanged
    # and measure each row in its own largest distance, so that the fixed bracket of log β
    # below holds the root at any scale of the embedding (β·d is what the weights see)
    span = d.max(1, keepdims=True)
    d = d / np.where(span > 0, span, 1.0)
    target = np.log(min(perplexity, dist.shape[1]))
    lo = np.full(len(d), -30.0)
    hi = np.full(len(d), 30.0)
    for _ in range(steps):
        mid = (lo + hi) / 2
        w = np.exp(-np.exp(mid)[:, None] * d)
        p = w / w.sum(1, keepdims=True)
        entropy = -(p * np.log(np.clip(p, 1e-300, None))).sum(1)
        too_flat = entropy > target  # larger β concentrates the weights
        lo = np.where(too_flat, mid, lo)
        hi = np.where(too_flat, hi, mid)
    w = np.exp(-np.exp((lo + hi) / 2)[:, None] * d)
    return w / w.sum(1, keepdims=True)


def lisi(emb: Any, values: Any, perplexity: float = LISI_PERPLEXITY) -> np.ndarray:
    """Per-record LISI (inverse Simpson index of ``values`` among kernel-weighted neighbours).

    As in Harmony's reference code: the 3·perplexity nearest records counting the record
    itself, which is then left out (3·perplexity − 1 neighbours); with fewer records, all the
    others and the perplexity lowered to a third of the records.
    """
    return lisi_columns(emb, [values], perplexity)[0]


def lisi_columns(
    emb: Any, columns: list[Any], perplexity: float = LISI_PERPLEXITY
) -> list[np.ndarray]:
    """Per-record LISI (as :func:`lisi`) of each label vector in ``columns``, all from one
    neighbour search and one kernel (they depend on the embedding only)."""
    x = _embedding(emb)
    coded = [_codes(values, len(x), "labels") for values in columns]
    n_query = min(int(3 * perplexity), len(x))  # the record itself included
    dist, idx = neighbours(x, n_query - 1)
    w = simpson_weights(dist, min(perplexity, n_query / 3)).ravel()
    rows = np.repeat(np.arange(len(x)), idx.shape[1])
    out = []
    for codes, m in coded:
        p = np.zeros((len(x), m))
        np.add.at(p, (rows, codes[idx].ravel()), w)
        out.append(1.0 / (p**2).sum(1))
    return out


def ilisi(emb: Any, batch: Any, perplexity: float = LISI_PERPLEXITY) -> tuple[float, float]:
    """Median iLISI and its scaled form (median − 1) / (B − 1) in [0, 1] (1 = even mix)."""
    out = lisi_metrics(emb, batch, None, perplexity)
    return out["ilisi"], out["ilisi_scaled"]


def clisi(emb: Any, labels: Any, perplexity: float = LISI_PERPLEXITY) -> tuple[float, float]:
    """Median cLISI — LISI of the cell types, 1 (each neighbourhood one type: best) .. L (L
    types evenly mixed) — and scIB's scaled form (L − median) / (L − 1) in [0, 1], 1 = best."""
    out = lisi_metrics(emb, None, labels, perplexity)
    return out["clisi"], out["clisi_scaled"]


#: Per LISI metric: the column it scores, the error for one level, the scaling of the median.
_LISI_KINDS = {
    "ilisi": ("batch", "batch-mixing metrics need at least two batches", lambda v, m: v - 1.0),
    "clisi": ("labels", "cell-type LISI needs at least two distinct labels", lambda v, m: m - v),
}


def lisi_metrics(
    emb: Any, batch: Any, labels: Any, perplexity: float = LISI_PERPLEXITY
) -> dict[str, float]:
    """``ilisi``, ``ilisi_scaled`` (of ``batch``), ``clisi``, ``clisi_scaled`` (of ``labels``)
    as :func:`ilisi` and :func:`clisi` give them, from one neighbour search and kernel; a
    ``None`` column gives no keys."""
    given = {key: v for key, v in (("ilisi", batch), ("clisi", labels)) if v is not None}
    levels = {
        key: _codes(v, len(np.asarray(emb)), _LISI_KINDS[key][0])[1] for key, v in given.items()
    }
    for key, m in levels.items():
        if m < 2:
            raise DataError(_LISI_KINDS[key][1])
    out = {}
    for (key, m), scores in zip(
        levels.items(), lisi_columns(emb, list(given.values()), perplexity)
    ):
        med = float(np.median(scores))
        out |= {key: med, f"{key}_scaled": _LISI_KINDS[key][2](med, m) / (m - 1.0)}
    return out


def kbet_acceptance(emb: Any, batch: Any, k: int = KBET_K, alpha: float = KBET_ALPHA) -> float:
    """Share of records whose neighbourhood batch counts pass a χ² test against global shares."""
    from scipy.stats import chi2

    x = _embedding(emb)
    codes, m = _codes(batch, len(x), "batch")
    if m < 2:
        raise DataError("batch-mixing metrics need at least two batches")
    _, idx = neighbours(x, k)
    k = idx.shape[1]
    observed = np.zeros((len(x), m))
    np.add.at(observed, (np.repeat(np.arange(len(x)), k), codes[idx].ravel()), 1.0)
    expected = k * np.bincount(codes, minlength=m) / len(x)
    stat = ((observed - expected) ** 2 / expected).sum(1)
    return float(np.mean(chi2.sf(stat, df=m - 1) >= alpha))


def clustering_agreement(emb: Any, labels: Any, seed: int = 0) -> tuple[float, float]:
    """ARI and NMI of k-means (k = number of labels, 10 restarts) against ``labels``."""
    cluster = require("sklearn.cluster", "report")
    metrics = require("sklearn.metrics", "report")
    x = _embedding(emb)
    y, m = _codes(labels, len(x), "labels")
    if m < 2:
        raise DataError("clustering agreement needs at least two distinct labels")
    pred = cluster.KMeans(n_clusters=m, n_init=10, random_state=seed).fit_predict(x)
    return (
        float(metrics.adjusted_rand_score(y, pred)),
        float(metrics.normalized_mutual_info_score(y, pred)),
    )


def integration_metrics(
    emb: Any, batch: Any, labels: Any, seed: int = 0, max_records: int | None = None
) -> dict[str, float]:
    """Every batch-mixing and conservation metric of ``emb`` as a flat dict (see module doc);
    records whose batch or label is missing (None, NaN, empty) are left out of all of them.
    ``n_records`` counts the records scored. Memory grows with the records; the silhouettes'
    time with their square (≈ 1–2 min for 50,000 on 2 busy cores): ``max_records`` scores a
    random subsample of that many (drawn with ``seed``, the same for every metric; off by
    default) instead, and the dict then holds ``subsampled_from``, the number it came from."""
    emb, batch, labels = _known(emb, batch, labels)
    check_groups(batch, labels)
    total = len(emb)
    if max_records is not None and total > max_records:
        if max_records < 3:
            raise ConfigError(f"max_records must be at least 3, got {max_records}")
        pick = np.sort(np.random.default_rng(seed).choice(total, max_records, replace=False))
        emb, batch, labels = emb[pick], batch[pick], labels[pick]
        check_groups(batch, labels, where="the subsample of max_records")
    ari, nmi = clustering_agreement(emb, labels, seed)
    lisis = lisi_metrics(emb, batch, labels)  # iLISI and cLISI share neighbours and kernel
    sampled = {"subsampled_from": total} if len(emb) < total else {}
    return {
        "n_records": len(emb),
        **sampled,
        "batch_asw": batch_asw(emb, batch, labels),
        "ilisi": lisis["ilisi"],
        "ilisi_scaled": lisis["ilisi_scaled"],
        "kbet_acceptance": kbet_acceptance(emb, batch),
        "label_asw": label_asw(emb, labels),
        "clisi": lisis["clisi"],
        "clisi_scaled": lisis["clisi_scaled"],
        "ari": ari,
        "nmi": nmi,
    }


def check_groups(
    batch: Any, labels: Any, names: tuple[str, str] = ("batch", "labels"), where: str = ""
) -> None:
    """One-line errors (``where``: the data, naming columns ``names``) when the records with
    both a batch and a label — the ones :func:`integration_metrics` uses — cannot give every
    metric: fewer than three, one batch, one label, or a label per record (an id column)."""
    b, y = (np.asarray(v, dtype=object) for v in (batch, labels))
    keep = _both_known(b, y)
    n = int(keep.sum())
    n_batches, n_labels = (len(set(level_text(v[keep]))) for v in (b, y))
    at = f"{where}: " if where else ""
    among = f"among the {n} records with both a {names[0]} and a {names[1]}"
    if n < 3:
        raise DataError(
            f"{at}only {n} records have both a {names[0]} and a {names[1]}; the metrics need "
            "at least 3: fill in the missing values or choose other columns"
        )
    if n_batches < 2:
        raise DataError(
            f"{at}{names[0]} has only one level {among}; batch-mixing metrics need at least "
            "two batches"
        )
    if n_labels < 2:
        raise DataError(
            f"{at}{names[1]} has only one class {among}; label conservation needs at least "
            "two cell types"
        )
    if n_labels > n - 1:
        raise DataError(
            f"{at}{names[1]} has {n_labels} classes {among} (one per record: an id column?); "
            "label conservation needs cell types shared by several records"
        )
