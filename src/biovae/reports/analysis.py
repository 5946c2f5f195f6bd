"""Numbers behind the report's plots: projections, feature choices, moments (numpy only)."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from biovae.data.dataset import Dataset
from biovae.levels import MISSING, level_text

#: Metadata columns with more distinct values than this are not offered as colours by default.
MAX_CATEGORIES = 30
#: At most this many default colour columns.
MAX_DEFAULT_COLOURS = 3


@dataclass(frozen=True)
class Projection:
    """2-D coordinates of the latent map and how they were obtained.

    ``xy`` is (n, 2); ``labels`` the axis labels; ``how`` a phrase for the caption.
    """

    xy: np.ndarray
    labels: tuple[str, str]
    how: str


def fitted_on(est: object, ds: Dataset | None) -> bool | None:
    """Whether ``ds`` is the data ``est`` was fitted on (the same fingerprint); None without
    data or when the model was saved without a fingerprint. Reads ``ds`` once: a report asks
    this once and hands the answer to every section that needs it."""
    expected = getattr(est, "fingerprint_", "")
    if ds is None or not expected:
        return None
    from biovae.data.fingerprint import fingerprint

    return fingerprint(ds) == expected


def code_name(est: Any, plural: bool = False) -> str:
    """What a record's point in the latent space is: its posterior mean, or, for a plain
    autoencoder (which has no posterior), its code; ``plural``: what the records' points are."""
    if est.config_.model.kind == "ae":
        return "codes f(x)" if plural else "code f(x)"
    return "posterior means" if plural else "posterior mean"


def project_2d(z_mean: np.ndarray, what: str = "posterior means") -> Projection:
    """The latent itself when it has ≤ 2 dimensions, else its first two principal components."""
    z = np.asarray(z_mean, dtype=np.float64)
    n, k = z.shape
    if k == 1:
        jitter = np.random.default_rng(0).uniform(-0.4, 0.4, n)
        return Projection(
            np.column_stack([z[:, 0], jitter]),
            ("z₁", "random jitter"),
            "the 1-D latent itself (spread vertically at random)",
        )
    if k == 2:
        return Projection(z, ("z₁", "z₂"), "the 2-D latent itself")
    centred = z - z.mean(0)
    _, s, vt = np.linalg.svd(centred, full_matrices=False)
    share = s**2 / max(float((s**2).sum()), 1e-300)
    labels = tuple(f"PC {i + 1} ({100 * share[i]:.0f}% of variance)" for i in range(2))
    how = (
        f"a PCA projection of the {k}-D {what} onto their first two principal "
        f"components ({100 * share[:2].sum():.0f}% of their variance)"
    )
    return Projection(centred @ vt[:2].T, labels, how)  # type: ignore[arg-type]


def is_categorical(column: np.ndarray) -> bool:
    """Text columns are categories; numbers get a colour scale."""
    return not np.issubdtype(np.asarray(column).dtype, np.number)


def n_categories(column: np.ndarray) -> int:
    """Number of distinct non-missing values of a text column (None and NaN are missing)."""
    return len(set(level_text(column)) - {MISSING})


def default_color_by(ds: Dataset) -> tuple[str, ...]:
    """Up to three text metadata columns with 2..30 categories, in the data set's order."""
    chosen = [
        name
        for name, col in ds.obs.items()
        if is_categorical(col) and 2 <= n_categories(col) <= MAX_CATEGORIES
    ]
    return tuple(chosen[:MAX_DEFAULT_COLOURS])


def dense_rows(x: np.ndarray | sp.spmatrix, rows: np.ndarray | None = None) -> np.ndarray:
    """Rows of a dense or sparse matrix as a dense float64 array (all rows when None)."""
    sub = x if rows is None else x[rows]
    return np.asarray(sub.toarray() if sp.issparse(sub) else sub, dtype=np.float64)


def subsample(n: int, size: int, seed: int = 0) -> np.ndarray:
    """Sorted indices of at most ``size`` of ``n`` records, chosen at random with ``seed``."""
    if n <= size:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size, replace=False))


def wants_log(x: np.ndarray) -> bool:
    """Whether values are non-negative and span a wide range (counts): show log(1 + x).
    Missing entries (NaN, e.g. genotypes) are left out."""
    x = x[~np.isnan(x)]
    return bool(x.size and x.min() >= 0 and np.percentile(x, 99.9) > 20)


def feature_moments(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-column mean and variance of ``x`` (n, f) over its observed entries: NaN marks a
    missing value (genotypes), and only a column with no observed entry gets NaN."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-missing columns
        return np.nanmean(x, axis=0), np.nanvar(x, axis=0)


#: Non-zero relative abundances spanning at least this ratio are drawn on a log scale.
ABUNDANCE_SPAN = 1e3


@dataclass(frozen=True)
class Scale:
    """The scale a table's values are drawn on: ``"value"`` (as they are), ``"log1p"``
    (log(1 + x), counts) or ``"log10"`` (log10(x + ``pseudocount``), relative abundances:
    shares below 1 that span orders of magnitude, where log(1 + x) ≈ x stays linear and a
    linear axis shows every rare taxon as zero)."""

    kind: str = "value"
    pseudocount: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in ("value", "log1p", "log10") or (
            (self.kind == "log10") != (self.pseudocount > 0)
        ):
            raise ValueError(f"no scale {self.kind!r} with pseudocount {self.pseudocount:g}")

    @property
    def log(self) -> bool:
        """Whether per-feature means and variances are drawn on log axes."""
        return self.kind != "value"

    @property
    def label(self) -> str:
        """The scale in words, for axes and captions."""
        text = {"value": "value", "log1p": "log(1 + x)"}
        return text.get(self.kind, f"log10(x + {self.pseudocount:g})")

    def apply(self, x: np.ndarray) -> np.ndarray:
        """``x`` on this scale."""
        if self.kind == "log1p":
            return np.log1p(np.clip(x, 0, None))
        if self.kind == "log10":
            return np.log10(np.clip(x, 0, None) + self.pseudocount)
        return x


def display_scale(x: np.ndarray) -> Scale:
    """log(1 + x) for counts (:func:`wants_log`); log10(x + ε) for relative abundances (each
    row's non-negative values summing to at most 1, the non-zero ones spanning at least
    :data:`ABUNDANCE_SPAN`), ε the power of ten at or below the smallest non-zero value (so
    zeros sit a decade or less under the rarest taxon seen); else the values as they are."""
    if wants_log(x):
        return Scale("log1p")
    positive = x[x > 0]  # NaN (missing) compares False
    if (
        positive.size
        and np.nanmin(x) >= 0
        and np.nansum(x, axis=1).max() <= 1 + 1e-6
        and np.percentile(positive, 99) >= ABUNDANCE_SPAN * np.percentile(positive, 1)
    ):
        return Scale("log10", float(10 ** np.floor(np.log10(positive.min()))))
    return Scale()


def log_pearson(a: np.ndarray, b: np.ndarray, floor: float = 1e-6) -> float:
    """Pearson correlation of log10 ``a`` and ``b``, values below ``floor`` raised to it."""
    return pearson(np.log10(np.clip(a, floor, None)), np.log10(np.clip(b, floor, None)))


def most_variable(x: np.ndarray, count: int) -> np.ndarray:
    """Indices of the ``count`` columns of ``x`` with the largest variance, largest first."""
    order = np.argsort(-feature_moments(x)[1], kind="stable")  # all-missing columns last
    return order[: min(count, x.shape[1])]


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation of two flattened arrays (NaN when either is constant)."""
    a, b = np.ravel(a).astype(np.float64), np.ravel(b).astype(np.float64)
    ok = np.isfinite(a) & np.isfinite(b)
    a, b = a[ok], b[ok]
    if a.size < 2 or a.std() == 0 or b.std() == 0:
        return float("nan")
    return float(np.corrcoef(a, b)[0, 1])


def entropy(freq_la: np.ndarray) -> np.ndarray:
    """Shannon entropy per position (nats) of letter frequencies (L, A)."""
    p = np.clip(freq_la, 1e-12, 1.0)
    return -(freq_la * np.log(p)).sum(-1)


def letter_probabilities(reconstruction: np.ndarray, n_letters: int) -> np.ndarray:
    """(n, L, A) letter probabilities; letter codes (n, L) (linear baselines) become one-hot."""
    rec = np.asarray(reconstruction)
    if rec.ndim == 3:
        return rec.astype(np.float64)
    return np.eye(n_letters)[rec.astype(np.int64)]
