"""Report section of a count model: marker genes of each group (differential expression of
each level of a categorical column against the rest) and a dot plot of them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from biovae.data.dataset import Dataset
from biovae.reports import figures as fg
from biovae.reports.analysis import default_color_by, is_categorical, n_categories
from biovae.reports.content import Plot, Section, Table

#: Markers shown per group, and posterior draws per group (fewer than ``biovae de``'s 5,000:
#: a report ranks genes, it does not call them).
PER_GROUP, DRAWS = 5, 1000
#: Group names on the dot plot take at most two lines of this many characters (the table keeps
#: them whole).
LABEL_WIDTH = 30


def marker_column(ds: Dataset, color_by: Sequence[str] | None, est: Any = None) -> str | None:
    """The first categorical column (2..30 levels) among ``color_by`` or, without it, the
    labels of a semi-supervised model, then the defaults less the covariates ``est`` is
    conditioned on (its batch: groups that are not cell types, and whose differences the model
    was told to explain away)."""
    schema = getattr(est, "schema_", None)
    covariates = set(schema.covariates.categorical) if schema is not None else set()
    label = getattr(getattr(schema, "labels", None), "key", None)
    defaults = [*([label] if label else []), *default_color_by(ds)]
    names = tuple(color_by or ()) or [n for n in defaults if n not in covariates]
    for name in names:
        col = ds.obs.get(name)
        if col is not None and is_categorical(col) and 2 <= n_categories(col) <= 30:
            return name
    return None


def markers(tables: list[Any]) -> dict[str, list[str]]:
    """Per group, the ``PER_GROUP`` genes most probably up in it (lfc_mean > 0)."""
    out = {}
    for t in tables:
        up = t[t["lfc_mean"] > 0]
        order = np.lexsort((-up["lfc_mean"].to_numpy(), -up["proba_de"].to_numpy()))
        out[t.attrs["group1"]] = [str(g) for g in up.index[order[:PER_GROUP]]]
    return out


def marker_section(est: Any, ds: Dataset | None, color_by: Sequence[str] | None) -> Section | None:
    """Marker genes of the groups of a categorical column, for count likelihoods; else None."""
    from biovae.applications import differential as de
    from biovae.likelihoods.base import ObservedLibrary

    model = getattr(est, "model_", None)
    if ds is None or not getattr(model, "stochastic", False):
        return None  # no data, or no posterior to sample (PCA, autoencoder)
    if not isinstance(model.likelihood, ObservedLibrary):
        return None
    name = marker_column(ds, color_by, est)
    if name is None:
        return None
    unlabelled = _without_unlabelled(est, ds, name)
    settings = de.DESettings(n_samples=DRAWS)
    tables = de.one_vs_rest(est, ds, unlabelled, groupby=name, settings=settings)
    chosen = markers(tables)
    rows = tuple(
        (g, str(t.attrs["n1"]), ", ".join(f"{m} ({t.loc[m, 'lfc_mean']:+.1f})" for m in genes))
        for (g, genes), t in zip(chosen.items(), tables)
    )
    lead = (
        f"For each {name}, the genes most probably higher in it than in all other records "
        f"(differential expression in change mode, {DRAWS} posterior draws per group; log2 fold "
        "change in brackets). A ranking, not a list of calls: run `biovae de` for the full "
        "table, Bayes factors and FDR-controlled calls."
        + (" Records without a label are left out." if unlabelled else "")
    )
    plot = Plot(
        "markers-dotplot",
        dot_plot(tables, chosen, name),
        f"Dot plot of marker genes by {name}",
        "Dot size: share of the group's records with a count of the gene; colour: the group's "
        "mean counts per 10,000, scaled to the largest group of each gene.",
    )
    table = Table((name, "records", "markers (log2 FC)"), rows, f"{PER_GROUP} markers per group")
    return Section("markers", f"Marker genes by {name}", lead, plots=(plot,), tables=(table,))


def _without_unlabelled(est: Any, ds: Dataset, name: str) -> dict[str, np.ndarray] | None:
    """For the label column of a semi-supervised model, the column with its unlabelled records
    (missing, "unknown", the unlabelled category, a column of numbers' −1) made missing, so
    that they are neither a group of their own nor part of every group's rest; None for any
    other column."""
    spec = getattr(getattr(est, "schema_", None), "labels", None)
    if spec is None or not spec.n_classes or spec.key != name:
        return None
    missing = spec.missing(ds.obs[name])  # before the cast: a column of numbers' -1 is none
    values = np.asarray(ds.obs[name], dtype=object)
    return {name: np.where(missing, "", values)}


def dot_plot(tables: list[Any], chosen: dict[str, list[str]], group_name: str = "group") -> bytes:
    """Groups × marker genes: detection rate as size, scaled mean expression as colour, read
    from each group's table against the rest (its ``*1`` columns describe the group);
    ``group_name``: the column the groups come from, the y axis' label."""
    genes = list(dict.fromkeys(g for gs in chosen.values() for g in gs))
    groups = list(chosen)
    names = fg.shorten_apart(groups, LABEL_WIDTH, lines=2)  # as a map's legend names them
    detect = np.array([t.loc[genes, "non_zeros_proportion1"].to_numpy() for t in tables])
    level = np.array([t.loc[genes, "raw_normalized_mean1"].to_numpy() for t in tables])
    level = level / np.maximum(level.max(axis=0, keepdims=True), 1e-12)

    def draw(fig) -> None:
        ax = fig.subplots()
        yy, xx = np.meshgrid(np.arange(len(groups)), np.arange(len(genes)), indexing="ij")
        dots = ax.scatter(
            xx.ravel(),
            yy.ravel(),
            s=dot_area(detect.ravel()),
            c=level.ravel(),
            cmap="Reds",
            vmin=0,
            vmax=1,
            edgecolors=fg.MUTED,
            linewidths=0.4,
        )
        ax.set_xticks(
            range(len(genes)), [fg.shorten(g, 20) for g in genes], rotation=90, fontsize=8
        )
        ax.set_yticks(range(len(groups)), names)
        ax.set(xlim=(-0.7, len(genes) - 0.3), ylim=(len(groups) - 0.5, -0.5))
        ax.set(xlabel="marker gene", ylabel=fg.wrap_label(group_name, LABEL_WIDTH))
        ax.grid(False)
        fig.colorbar(dots, ax=ax, shrink=0.6, label="scaled mean")
        _size_legend(ax)

    # room for the group names beside the dots (about 0.09 inch per character), and at least
    # for the legend of dot sizes above them
    widest = max(len(line) for n in names for line in n.split("\n"))
    width = min(18.0, max(5.5, 2.5 + 0.28 * len(genes) + 0.09 * widest))
    return fg.render(draw, (width, 1.2 + 0.35 * max(len(groups), 4)))


def dot_area(detected: np.ndarray | float) -> np.ndarray | float:
    """Marker area (points²) of a dot whose group has ``detected`` (0–1) records with a count."""
    return 10 + 140 * detected


def _size_legend(ax) -> None:
    """What dot sizes mean, above the plot: the caption alone left the reader guessing."""
    handles = [
        ax.scatter([], [], s=dot_area(share), color=fg.MUTED, label=f"{share:.0%}")
        for share in (0.25, 0.5, 0.75, 1.0)
    ]
    ax.legend(
        handles=handles,
        title="records with a count",
        loc="lower right",
        bbox_to_anchor=(1.0, 1.0),
        ncols=len(handles),
        borderaxespad=0.2,
        columnspacing=1.0,
    )
