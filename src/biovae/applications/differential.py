"""Differential expression between two groups of cells, from a fitted count model.

The quantity compared is a cell's normalised expression h = softmax(ρ(z, c)), the share of each
gene in its counts once library size is taken out (:meth:`ObservedLibrary.frequencies`). For
groups A and B, S posterior draws are made in each: draw j takes a cell of the group (every cell
used ⌊S/n⌋ or ⌈S/n⌉ times, in random order), z_j ~ q(z|x, c) and h_j = softmax(ρ(z_j, c_j)).
Pairing draw j of A with draw j of B gives S samples of the log fold change

    r_g = log2(h_Ag + ε) − log2(h_Bg + ε),

and, for a threshold δ (log2 units), P(up) = P(r_g ≥ δ), P(down) = P(r_g ≤ −δ). A gene's
probability of differential expression is p_g = max(P(up), P(down)), its more probable
direction of change beyond δ, and its Bayes factor log p_g − log(1 − p_g), unsigned (the
direction is that of ``lfc_*``). This is scVI's "change" mode (Boyeau et al. 2023, *Mol. Syst.
Biol.* 19:e11517) as scvi-tools 1.4 computes it by default (``test_mode="three"``). The
pseudocount is scvi-tools 1.4's: per group, the 0.9 quantile over the genes it does not express
(mean count below ``threshold_counts``) of their largest sampled h; ε is the larger of the two
groups' values over the number of genes (at least 1e-10). The ``lfc_*`` summaries use ε / 1000,
as scvi-tools does, so the reported fold changes are barely shrunk.

Calls control the posterior expected false discovery rate: with genes sorted by p_g, the top k
have expected FDR (1/k) Σ_{i≤k} (1 − p_i); the largest k with expected FDR ≤ α are called
(≤ up to a relative 1e-9, the rounding of p_g = k/S), taking genes of equal p_g by
decreasing |``lfc_mean``|, the order of the table. One group against the rest (``group2=None``)
is against every other cell with a level of ``groupby``; cells without one are in neither group
(scvi-tools puts them in the rest).

Batch correction (``batch_key``, a categorical covariate of a conditional model): every draw is
decoded under one level of that covariate, draw j of both groups under the same level (levels
taken in turn), so each fold change compares the two groups within one batch — the decoder's
batch effect cancels in it. Without it each cell is decoded with its own covariates.

Vanilla mode (``mode="vanilla"``, scvi-tools' default; Lopez et al. 2018) asks only for the
sign of the change: from the same paired draws, ``proba_m1`` = P(h_A > h_B), ``proba_m2`` =
1 − ``proba_m1`` and ``bayes_factor`` = log(``proba_m1`` + 1e-8) − log(``proba_m2`` + 1e-8),
as scvi-tools computes them. ``proba_de`` is then the probability of the more probable sign,
max(``proba_m1``, ``proba_m2``) — change mode's p_g with δ = 0 and no pseudocount — and genes
with |``bayes_factor``| ≥ ``settings.bayes_factor`` (3 by default: posterior odds ≈ 20 : 1,
the threshold of Lopez et al.) are called (``is_de_bf_<threshold>``). With no effect size in
the hypothesis, a small but consistent change is called as readily as a large one; the
``lfc_*`` columns (as in change mode) say how large it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
import torch

from biovae.applications.de_sampling import Cells, read_cells, sample_frequencies
from biovae.applications.de_table import change_table, estimate_pseudocount, ranking
from biovae.applications.de_table import fdr_calls as fdr_calls  # re-exported
from biovae.applications.group_counts import LevelSums, level_sums
from biovae.config import _check, _typed
from biovae.errors import ConfigError, DataError, model_phrase
from biovae.inputs import as_dataset
from biovae.levels import find_level, level_text, natural_order
from biovae.likelihoods.base import ObservedLibrary


@dataclass(frozen=True)
class DESettings:
    """How the posterior is sampled and summarised (defaults as scVI's ``differential_expression``).

    Attributes
    ----------
    mode
        ``"change"`` (an effect of at least δ, calls at a posterior expected FDR) or
        ``"vanilla"`` (the sign of the change, calls by Bayes factor); module docstring.
    delta
        Smallest |log2 fold change| that counts as differential expression (change mode).
    fdr
        Target posterior expected false discovery rate of the calls (change mode), in [0, 1);
        at 0 only genes of ``proba_de`` exactly 1 (every draw beyond δ) are called.
    bayes_factor
        Smallest |Bayes factor| (natural log) called in vanilla mode.
    n_samples
        Posterior draws per group (and fold-change samples per gene).
    pseudocount
        ε added to h before the logarithm; None estimates it from the data (module docstring).
    threshold_counts
        Mean count below which a group is taken not to express a gene (for ε).
    seed
        Seed of the draws: the same seed gives the same table.
    """

    mode: Literal["change", "vanilla"] = "change"
    delta: float = 0.25
    fdr: float = 0.05
    bayes_factor: float = 3.0
    n_samples: int = 5000
    pseudocount: float | None = None
    threshold_counts: float = 0.01
    seed: int = 0

    def __post_init__(self) -> None:
        _typed(self)  # n_samples=1e3 or seed=None failed deep in numpy/torch with a traceback
        mode, given = self.mode, self.pseudocount
        _check(mode in ("change", "vanilla"), f"mode must be 'change' or 'vanilla', got {mode!r}")
        _check(self.bayes_factor > 0, f"bayes_factor must be > 0, got {self.bayes_factor}")
        _check(self.delta >= 0, f"delta must be ≥ 0 (log2 fold change), got {self.delta}")
        # 0 is well defined (as in scvi-tools): only genes of P(DE) exactly 1 are called
        _check(0 <= self.fdr < 1, f"fdr must be in [0, 1), got {self.fdr}")
        _check(
            self.n_samples >= 2,
            f"n_samples (CLI --samples) must be at least 2, got {self.n_samples}",
        )
        _check(given is None or given >= 0, f"pseudocount must be ≥ 0, got {given}")
        at_least = self.threshold_counts >= 0
        _check(at_least, f"threshold_counts must be ≥ 0, got {self.threshold_counts}")


def differential_expression(
    est: Any,
    X: Any,
    obs: Any = None,
    *,
    groupby: str,
    group1: str,
    group2: str | None = None,
    batch_key: str | None = None,
    settings: DESettings | None = None,
) -> pd.DataFrame:
    """Differential expression of ``group1`` against ``group2`` (or every other cell).

    Parameters
    ----------
    est
        A fitted :class:`biovae.VAE` (or semi-supervised VAE) with a count likelihood.
    X, obs
        The cells and their metadata (anything :func:`biovae.inputs.as_dataset` accepts).
    groupby, group1, group2
        Metadata column and the levels compared; ``group2=None``: every other cell with a level.
    batch_key
        Categorical covariate of the model to correct for (module docstring); None decodes
        every cell with its own covariates.
    settings
        :class:`DESettings`; defaults when None.

    Returns
    -------
    pandas.DataFrame
        One row per gene, most probably differential first: ``proba_de``, ``proba_not_de``,
        ``bayes_factor``, ``lfc_mean``/``median``/``std``/``min``/``max`` (group1 over group2,
        log2), ``scale1``/``scale2`` (mean sampled h), ``raw_mean1``/``2``,
        ``non_zeros_proportion1``/``2``, ``raw_normalized_mean1``/``2`` (counts per 10,000) and
        ``is_de_fdr_<fdr>``; in vanilla mode also ``proba_m1``/``proba_m2`` and the calls as
        ``is_de_bf_<threshold>``. ``attrs`` holds the mode, δ, ε and the group sizes.
    """
    settings = settings or DESettings()
    check_model(est)
    ds = as_dataset(X, obs, layer=est.config_.data.layer)
    groups = Grouping.of(ds, groupby)
    group1 = _named(group1, groups.levels, "group1")  # 0, 0.0, "0" and "0.0": one level
    group2 = None if group2 is None else _named(group2, groups.levels, "group2")
    groups.indices(group1, group2)  # bad requests fail before any work
    cells, sums = read_cells(est, ds), level_sums(ds.x, groups.labels)
    return _compare(est, ds, cells, sums, groups, (group1, group2), batch_key, settings)


@dataclass(frozen=True)
class Grouping:
    """The groups of a metadata column: each record's level as text (``""`` = none)."""

    column: str
    labels: np.ndarray
    levels: tuple[str, ...]
    where: str

    @classmethod
    def of(cls, ds: Any, column: str) -> Grouping:
        labels = level_text(ds.obs_column(column))
        return cls(column, labels, natural_order(set(labels) - {""}), ds.source or "data")

    def indices(self, group1: str, group2: str | None) -> tuple[np.ndarray, np.ndarray]:
        """Rows of ``group1`` and of ``group2`` (None: every other labelled record); one-line
        errors for an unknown level, the same level twice or an empty second group."""
        for g in (group1, group2):
            if g is not None and str(g) not in self.levels:
                raise DataError(
                    f"{self.where}: {self.column} has no level {str(g)!r} (levels: "
                    f"{', '.join(self.levels[:20])}); choose one of them"
                )
        if group2 is not None and str(group2) == str(group1):
            raise DataError(f"group1 and group2 are both {str(group1)!r}; compare two levels")
        labels = self.labels
        idx1 = np.flatnonzero(labels == str(group1))
        rest = labels != str(group1) if group2 is None else labels == str(group2)
        idx2 = np.flatnonzero(rest & (labels != ""))
        if len(idx2) == 0:
            raise DataError(
                f"{self.where}: no cells outside {self.column} = {str(group1)!r} to compare "
                "with; give data with at least two groups"
            )
        return idx1, idx2


def _compare(
    est: Any,
    ds: Any,
    cells: Cells,
    sums: LevelSums,
    groups: Grouping,
    compared: tuple[str, str | None],
    batch_key: str | None,
    settings: DESettings,
) -> pd.DataFrame:
    """The table of ``compared`` = (group1, group2 or None for the rest)."""
    group1, group2 = compared
    idx1, idx2 = groups.indices(group1, group2)
    gen = torch.Generator().manual_seed(settings.seed)
    h1 = sample_frequencies(est, cells, idx1, settings.n_samples, gen, batch_key)
    h2 = sample_frequencies(est, cells, idx2, settings.n_samples, gen, batch_key)
    rest = [lv for lv in sums.levels if lv != str(group1)]
    raw1 = sums.summary([group1])
    raw2 = sums.summary(rest if group2 is None else [group2])
    eps, cut = settings.pseudocount, settings.threshold_counts
    if eps is None:
        eps = estimate_pseudocount(h1, h2, raw1["raw_mean"] < cut, raw2["raw_mean"] < cut)
    table = change_table(h1, h2, eps, settings)
    for raw, k in ((raw1, "1"), (raw2, "2")):
        for name, values in raw.items():
            table[name + k] = values
    frame = pd.DataFrame(table, index=pd.Index(ds.features, name="gene"))
    frame = frame.iloc[ranking(table["proba_de"], table["lfc_mean"])]
    frame.attrs.update(
        mode=settings.mode,
        delta=settings.delta,
        fdr=settings.fdr,
        bayes_factor=settings.bayes_factor,
        batch_correction=batch_key or "",
        pseudocount=float(eps),
        n1=len(idx1),
        n2=len(idx2),
        group1=str(group1),
        group2="rest" if group2 is None else str(group2),
    )
    return frame


def _named(value: Any, levels: tuple[str, ...], name: str) -> str:
    """The level ``value`` names (its own spelling when none, for the error that follows)."""
    if np.ndim(value) or isinstance(value, (set, frozenset, dict)):  # ["A", "B"] ran A alone
        raise ConfigError(f"{name} names one level, got {value!r}; compare one at a time")
    return find_level(value, levels) or level_text([value])[0]


def check_model(est: Any) -> None:
    """A one-line ConfigError unless ``est`` is a fitted VAE with a count likelihood."""
    model = getattr(est, "model_", None)
    if not getattr(model, "stochastic", False):
        raise ConfigError(
            f"differential expression samples q(z|x): fit a VAE (or semi-supervised VAE), not "
            f"{model_phrase(est)}"
        )
    if not isinstance(model.likelihood, ObservedLibrary):
        raise ConfigError(
            f"differential expression needs a count likelihood with a library size "
            f"(nb, zinb, poisson), not '{model.likelihood.name}'"
        )


def one_vs_rest(
    est: Any,
    X: Any,
    obs: Any = None,
    *,
    groupby: str,
    batch_key: str | None = None,
    settings: DESettings | None = None,
) -> list[pd.DataFrame]:
    """:func:`differential_expression` of every level of ``groupby`` against all other cells,
    one table per level (numbers by value, then text: :func:`~biovae.levels.natural_order`);
    :func:`stack` joins them."""
    check_model(est)  # before est.config_: an unfitted model raised AttributeError
    ds = as_dataset(X, obs, layer=est.config_.data.layer)
    groups = Grouping.of(ds, groupby)
    if len(groups.levels) < 2:
        raise DataError(
            f"{groups.where}: {groupby} has {len(groups.levels)} level(s); differential "
            "expression needs at least two groups"
        )
    _check_groups_of_cells(groups)
    cells, sums = read_cells(est, ds), level_sums(ds.x, groups.labels)
    settings = settings or DESettings()
    return [
        _compare(est, ds, cells, sums, groups, (level, None), batch_key, settings)
        for level in groups.levels
    ]


def _check_groups_of_cells(groups: Grouping, most: int = 100) -> None:
    """One-vs-rest runs one comparison per level: more than ``most`` levels, or nearly one per
    cell (a continuous or id column, e.g. n_counts), would run hundreds silently."""
    n_levels, n_cells = len(groups.levels), int((groups.labels != "").sum())
    if n_levels > most or (n_levels > 20 and n_levels > n_cells / 2):
        raise DataError(
            f"{groups.where}: {groups.column} has {n_levels} levels among {n_cells} cells (a "
            "continuous or id column?); one-vs-rest would run a comparison per level: group "
            "the cells by a categorical column (cell type, cluster), or compare two levels "
            "with group1/group2 (CLI --group1/--group2)"
        )


def stack(tables: list[pd.DataFrame]) -> pd.DataFrame:
    """Tables of several comparisons as one, with a ``comparison`` column ("g1 vs g2")."""
    return pd.concat(
        [t.assign(comparison=f"{t.attrs['group1']} vs {t.attrs['group2']}") for t in tables]
    )
