"""The likelihood contract: how a family of p(x|z) is built from raw decoder outputs.

A likelihood is bound to a data shape when a model is built. It declares

* ``outputs()`` – per-observation decoder outputs (name → shape),
* ``global_params()`` – learned parameters shared by all observations (e.g. gene-wise
  dispersion), with their initial raw values,
* ``distribution(params, context)`` – a ``torch.distributions.Distribution`` whose event shape is
  the data shape, so ``log_prob(x)`` gives one value per observation,
* ``featurize(x)`` – how an encoder sees the data (e.g. one-hot, log1p),
* ``context(x)`` – observed quantities the distribution needs (e.g. library size),
* ``validate(x)`` – the support check, returning a description of the first bad entry.

Constraint transforms (softplus, softmax) live here and nowhere else.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor
from torch.distributions import Distribution

from biovae.config import LikelihoodConfig
from biovae.errors import ConfigError

#: Lower bound added to every positive parameter so scales never reach zero.
EPS = 1e-4


def positive(raw: Tensor) -> Tensor:
    """Numerically safe map from R to (EPS, inf): softplus(raw) + EPS."""
    return F.softplus(raw) + EPS


def one_hot(index: Tensor, n: int, dtype: torch.dtype = torch.float32) -> Tensor:
    """Indicators ``(..., n)`` of ``index`` ``(...)`` in 0..n−1 (checked by the caller's data
    validation). Unlike ``F.one_hot`` it does not read the indices to check their range: no
    host sync on a GPU, and it runs on torch 2.2's ``meta`` device."""
    return (index.unsqueeze(-1) == torch.arange(n, device=index.device)).to(dtype)


def log_gamma_sample(concentration: Tensor) -> Tensor:
    """log G for draws G ~ Gamma(α, 1), one per entry of ``concentration`` α > 0 (torch's RNG).

    Normalised over an axis, exp(log G) is a Dirichlet(α) draw. Drawn in log space, as
    log G = log G' + log(U)/α with G' ~ Gamma(α + 1, 1) and U ~ Uniform(0, 1] (the boost of
    Marsaglia and Tsang): torch's Gamma sampler floors G at the smallest normal float (1.2e-38
    in float32), which a draw with α ≲ 1e-3 falls below most of the time, and a record whose
    draws all hit the floor came out as equal shares where the Dirichlet puts nearly everything
    on one component.
    """
    boosted = torch.distributions.Gamma(concentration + 1.0, 1.0).sample()
    u = 1.0 - torch.rand_like(concentration)  # in (0, 1]: log U is finite
    return torch.log(boosted) + torch.log(u) / concentration


def inverse_positive(value: float) -> float:
    """Raw value whose :func:`positive` is ``value`` (for initialising parameters)."""
    v = max(value - EPS, 1e-8)
    return float(np.log(np.expm1(v))) if v < 20 else float(v)


@dataclass(frozen=True)
class BadEntry:
    """The first entry of a data matrix that a likelihood cannot model."""

    row: int
    column: int
    problem: str
    fix: str


class Likelihood(ABC):
    """Base of all p(x|z) families; concrete classes are registered by name."""

    name: ClassVar[str]
    #: dtype of the data tensors this likelihood scores (float32 or int64 codes)
    data_dtype: ClassVar[torch.dtype] = torch.float32
    #: whether :meth:`bind_batches` is supported (shared parameters per batch)
    per_batch: ClassVar[bool] = False
    #: number of batches of per-batch shared parameters (0 = shared by all records)
    n_batches: int = 0
    #: whether NaN entries are missing data this family models (else they are refused)
    allows_missing: ClassVar[bool] = False
    #: whether the data are whole numbers (counts, allele counts, 0/1, letter codes): samples
    #: are written as integers
    integer_data: ClassVar[bool] = False
    #: whether the family models sequences (letter codes over an alphabet); the others would
    #: read letter codes as numbers, so sequence data are refused for them
    sequences: ClassVar[bool] = False
    #: whether a record is a composition of its features (taxa), each read or share counted once
    compositional: ClassVar[bool] = False
    #: whether the data are counts per record (cells, samples): checked for genes x cells
    #: tables read the wrong way round and for counts float32 cannot hold exactly
    counts: ClassVar[bool] = False
    #: what :meth:`featurize` gives the encoder (and a PCA), in words
    features_text: ClassVar[str] = "the values themselves"

    def __init__(
        self, data_shape: tuple[int, ...], config: LikelihoodConfig, n_letters: int = 0
    ) -> None:
        self.data_shape = tuple(int(s) for s in data_shape)
        self.config = config
        self.n_letters = int(n_letters)

    @classmethod
    def configure(cls, config: LikelihoodConfig, features: Sequence[str]) -> LikelihoodConfig:
        """Settings this family reads from the training data's feature names (none here)."""
        return config

    def bind_batches(self, n_batches: int) -> None:
        """Learn the shared parameters once per batch; ``context["batch"]`` is the one-hot."""
        if not self.per_batch:
            raise ConfigError(
                f"the {self.name} likelihood has no per-batch parameters; "
                "use likelihood.dispersion = 'gene' (per-batch dispersion is for nb and zinb)"
            )
        self.n_batches = int(n_batches)

    @property
    def n_features(self) -> int:
        """Width of the flattened data (product of the data shape)."""
        return int(np.prod(self.data_shape))

    @property
    def n_inputs(self) -> int:
        """Width of ``featurize(x)``, the encoder input."""
        return self.n_features

    @abstractmethod
    def outputs(self) -> dict[str, tuple[int, ...]]:
        """Per-observation decoder outputs: name → shape (without the batch dimension)."""

    def global_params(self) -> dict[str, Tensor]:
        """Learned parameters shared by all observations, as initial raw tensors."""
        return {}

    @abstractmethod
    def distribution(self, params: dict[str, Tensor], context: dict[str, Tensor]) -> Distribution:
        """p(x|z) with batch shape ``(..., n)`` and event shape ``data_shape``."""

    def featurize(self, x: Tensor) -> Tensor:
        """Encoder input ``(n, n_inputs)`` float tensor from a data batch."""
        return x.flatten(1).float()

    def defeaturize(self, x_nf: Tensor) -> Tensor:
        """Nearest data-space point to a featurized vector (used by linear baselines)."""
        return x_nf.reshape(x_nf.shape[0], *self.data_shape)

    def context(self, x: Tensor) -> dict[str, Tensor]:
        """Observed per-record quantities needed by :meth:`distribution`."""
        return {}

    def as_modelled(self, x: Tensor) -> Tensor:
        """A data batch as the likelihood models it, the scale its samples are on (posterior
        predictive checks compare the two): ``x`` itself, unless a family normalises it."""
        return x

    def expected(self, dist: Distribution) -> Tensor:
        """E[x|z] in data space (probabilities per letter for categorical data)."""
        return dist.mean

    def validate(self, x: np.ndarray) -> BadEntry | None:
        """First entry outside the support, or None. ``x`` is dense or scipy sparse."""
        return None

    def score_units(self, x: np.ndarray) -> tuple[str, np.ndarray] | None:
        """What a record's score is best compared per (e.g. ``("locus", observed loci)`` for
        genotypes with missing loci), or None: scores are compared per record."""
        return None

    def record_qc(
        self, blocks, stats: Mapping[str, Any] | None = None
    ) -> dict[str, np.ndarray] | None:
        """Per-record quality columns of the data (e.g. heterozygosity and missing rate of
        genotypes), or None. ``blocks``: a callable returning a fresh iterable of the records'
        dense ``(n, f)`` blocks in order (called once per pass over the data); ``stats``: the
        training data's summaries (:meth:`context_stats`) to judge them by, where it has some."""
        return None

    def caveat(self, obs: Mapping[str, np.ndarray]) -> str | None:
        """A warning when the records' metadata say the data are not what this family assumes
        (the data themselves are inside its support, else :meth:`validate` refuses them)."""
        return None

    def context_stats(self, x, batch: np.ndarray | None = None) -> dict[str, Any]:
        """Summary of the training data (dense or sparse ``(n, f)``) needed later, to sample
        (numbers) or to judge scored records by (:meth:`record_qc`; JSON-ready lists);
        ``batch``: each record's batch level (text), for summaries kept per batch."""
        return {}

    def prior_context(
        self, n: int, stats: dict[str, float], batch: np.ndarray | None = None
    ) -> dict[str, Tensor]:
        """Context for ``n`` records generated from the prior (uses torch's RNG); ``batch``:
        each record's batch level, where the summaries are kept per batch."""
        return {}


def row_blocks(x) -> Iterable[tuple[int, Any]]:
    """``(first row, block)`` pairs of data ``x``: a matrix on disk's own ``blocks()``, or
    the whole array (dense or scipy sparse) as one block."""
    return x.blocks() if hasattr(x, "blocks") else [(0, x)]


def dense_blocks(x) -> Iterator[np.ndarray]:
    """The rows of data ``x`` (an array, scipy sparse, or on disk with ``blocks()``) as
    dense blocks, in order, one at a time."""
    return (b.toarray() if hasattr(b, "toarray") else np.asarray(b) for _, b in row_blocks(x))


def first_bad(x, bad_mask_fn) -> tuple[int, int] | None:
    """Row and column of the first entry where ``bad_mask_fn(values)`` is true.

    Works for dense arrays and scipy sparse matrices (only stored values are checked for
    sparse input; implicit zeros are valid for every family that accepts sparse data).
    """
    import scipy.sparse as sp

    if sp.issparse(x):
        csr = sp.csr_matrix(x)
        bad = np.flatnonzero(bad_mask_fn(csr.data))
        if bad.size == 0:
            return None
        pos = int(bad[0])
        row = int(np.searchsorted(csr.indptr, pos, side="right") - 1)
        return row, int(csr.indices[pos])
    arr = np.asarray(x)
    if arr.size == 0:
        return None
    rows, cols = np.nonzero(bad_mask_fn(arr).reshape(arr.shape[0], -1))
    if rows.size == 0:
        return None
    return int(rows[0]), int(cols[0])


def check_non_negative_integers(x) -> BadEntry | None:
    """Shared support check of count families."""
    hit = first_bad(x, lambda v: v < 0)
    if hit:
        return BadEntry(
            *hit,
            "is negative",
            "counts must be >= 0; pass raw counts, not "
            "log-transformed or centred values, or choose --likelihood (likelihood) gaussian",
        )
    hit = first_bad(x, lambda v: v != np.round(v))
    if hit:
        return BadEntry(
            *hit,
            "is not a whole number",
            "count likelihoods need raw integer counts; read the raw count layer with --layer "
            "(layer), or choose --likelihood (likelihood) hurdle_dirichlet for relative "
            "abundances or gaussian",
        )
    return None


def library_size(x: Tensor) -> Tensor:
    """Observed library size (total count) of each record, shape ``(n, 1)``, at least 1."""
    return x.sum(dim=-1, keepdim=True).clamp_min(1.0)


class ObservedLibrary:
    """Mixin of count families whose mean is library size × composition.

    Sampling from the prior draws library sizes from a log-normal fitted to the training data,
    to each batch's own records when the model has a batch key (a platform's sequencing depth,
    as scVI's per-batch library prior; a query's new batch, mapped onto the reference, to its
    query records); a level without records of its own draws from the log-normal of all
    records.
    """

    features_text: ClassVar[str] = "log1p of the counts"
    counts: ClassVar[bool] = True

    #: The decoder output whose softmax over the features is the composition: adding one
    #: constant to it across the features changes no probability (its other outputs, such as
    #: ZINB's per-feature ``pi_logits``, have no such freedom).
    composition_output = "rho"

    def context(self, x: Tensor) -> dict[str, Tensor]:
        return {"library": library_size(x)}

    def context_stats(self, x, batch: np.ndarray | None = None) -> dict[str, float]:
        lib = np.asarray(x.sum(axis=1), dtype=np.float64).ravel()
        log_lib = np.log(np.maximum(lib, 1.0))
        stats = {"log_library_mean": float(log_lib.mean()), "log_library_std": float(log_lib.std())}
        for level in sorted(set(batch)) if batch is not None else ():
            own = log_lib[batch == level]
            stats[f"log_library_mean|{level}"] = float(own.mean())
            stats[f"log_library_std|{level}"] = float(own.std())
        return stats

    def prior_context(
        self, n: int, stats: dict[str, float], batch: np.ndarray | None = None
    ) -> dict[str, Tensor]:
        z = torch.randn(n, 1)
        levels = [None] * n if batch is None else list(batch)
        mean, std = (
            torch.tensor(
                [stats.get(f"{name}|{level}", stats[name]) for level in levels],
                dtype=torch.float32,
            ).reshape(n, 1)
            for name in ("log_library_mean", "log_library_std")
        )
        return {"library": torch.exp(mean + std * z)}

    def frequencies(self, params: dict[str, Tensor]) -> Tensor:
        """Each feature's expected share of a record's counts, softmax(ρ), ``(..., n, f)``.

        The library size scales it into the mean; for ZINB it is the NB part's share, before
        zero inflation (the expression level, not the detection rate).
        """
        return torch.softmax(params[self.composition_output], dim=-1)

    def featurize(self, x: Tensor) -> Tensor:
        return torch.log1p(x.flatten(1).float())

    def defeaturize(self, x_nf: Tensor) -> Tensor:
        return torch.expm1(x_nf).clamp_min(0).round().reshape(x_nf.shape[0], *self.data_shape)

    def validate(self, x: np.ndarray) -> BadEntry | None:
        return check_non_negative_integers(x)
