"""Plots of the model itself: training curves, latent dimension usage, latent maps.

Every function returns a PNG image as ``bytes``; matplotlib is imported only when one runs.
Plots of reconstructions and samples are in :mod:`biovae.reports.plots_data`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from biovae.levels import level_text
from biovae.reports import figures as fg
from biovae.reports.analysis import Projection, is_categorical

#: (history key, panel title, y label) of the training-curve panels.
CURVES = (
    ("elbo", "ELBO (higher is better)", "nats per record"),
    ("recon", "Reconstruction −E log p(x|z)", "nats per record"),
    ("kl", "KL(q(z|x) ‖ p(z))", "nats per record"),
)
#: Categories beyond this many (by frequency) are drawn as one grey "other" group, so that a
#: legend of 79 populations lists the 19 largest and "60 others", never 79 rows of colours no
#: reader tells apart (at most :data:`~biovae.reports.figures.MAX_STYLES`).
MAX_LEGEND = 20
#: The label of the "other" group inside :func:`_category_labels` (no category's name).
OTHER = "\x00other"
#: Category names in a legend take at most two lines of this many characters (two columns fit
#: the map's width).
LEGEND_WIDTH = 26


def training_curves(
    history: Sequence[dict],
    keys: Sequence[str] = ("elbo", "recon", "kl"),
    warmup: int = 0,
    kept: int | None = None,
) -> bytes:
    """Panels of ``keys`` (ELBO, reconstruction, KL) per epoch, training and validation.

    Panels whose values are all zero (e.g. the KL of an IWAE fit) are left out. ``warmup``
    epochs of rising β are shaded; ``kept`` marks the epoch whose weights were kept.
    """
    panels = [c for c in CURVES if c[0] in keys and any(abs(r.get(c[0], 0.0)) > 0 for r in history)]
    epochs = np.array([r["epoch"] for r in history], dtype=float)

    def draw(fig) -> None:
        axes = fig.subplots(1, len(panels), squeeze=False)[0]
        for ax, (key, title, ylabel) in zip(axes, panels):
            ax.plot(epochs, [r[key] for r in history], color=fg.TRAIN, lw=2, label="training")
            if any(f"val_{key}" in r for r in history):
                val = [r.get(f"val_{key}", np.nan) for r in history]
                ax.plot(epochs, val, color=fg.VALIDATION, lw=2, ls="--", label="validation")
            if warmup:
                ax.axvspan(
                    0.5,
                    warmup + 0.5,
                    color=fg.SHADE,
                    alpha=0.45,
                    lw=0,
                    label=f"β warm-up ({warmup} epochs)",
                )
            if kept is not None:
                ax.axvline(kept, color=fg.INK, lw=1, ls=":", label=f"kept (epoch {kept})")
            ax.set(title=title, xlabel="epoch", ylabel=ylabel)
            ax.xaxis.set_major_locator(fg.integer_locator())  # no epoch 2.5 on short fits
            if key != "kl":  # the KL's early rise and fall under warm-up is worth seeing
                _robust_ylim(ax, [[r.get(k, np.nan) for k in (key, f"val_{key}")] for r in history])
        handles, labels = axes[0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside lower center", ncols=len(labels))

    return fg.render(draw, (3.9 * len(panels) + 0.4, 3.7))


def _robust_ylim(ax, values: Sequence[Sequence[float]]) -> None:
    """Zoom past the first epochs' huge values so that later progress stays visible.

    ``values`` is (epochs, curves); NaN marks a missing value.
    """
    v = np.asarray(values, dtype=float)
    if len(v) < 6:
        return
    tail = v[max(1, len(v) // 10) :]
    lo, hi = float(np.nanmin(tail)), float(np.nanmax(tail))
    pad = 0.08 * (hi - lo or abs(hi) or 1.0)
    if np.nanmin(v) < lo - 4 * pad or np.nanmax(v) > hi + 4 * pad:
        ax.set_ylim(lo - pad, hi + pad)


def latent_usage(activity: np.ndarray, threshold: float, kl: np.ndarray | None = None) -> bytes:
    """Bars per latent dimension: KL (VAE only) and activity Var_x E_q[z_k], coloured by use."""
    active = activity > threshold
    colours = [fg.ACTIVE if a else fg.COLLAPSED for a in active]
    dims = np.arange(1, len(activity) + 1)

    def draw(fig) -> None:
        axes = fig.subplots(1, 2 if kl is not None else 1, squeeze=False)[0]
        if kl is not None:
            axes[0].bar(dims, kl, color=colours)
            axes[0].set(
                title="KL per latent dimension", xlabel="latent dimension", ylabel="nats per record"
            )
        ax = axes[-1]
        ax.bar(dims, np.maximum(activity, 1e-6), color=colours)
        ax.axhline(
            threshold, color=fg.VALIDATION, ls="--", lw=1.2, label=f"threshold {threshold:g}"
        )
        ax.set_yscale("log")
        ax.set_ylim(
            min(threshold / 3, float(activity.min()) / 2 or 1e-6),
            max(threshold * 10, float(activity.max()) * 3),
        )
        _usage_legend(fig, ax, active)
        ax.set(
            title="Activity: variance of posterior means",
            xlabel="latent dimension",
            ylabel="Var over records of E[z_k]",
        )
        for a in axes:
            a.set_xticks(dims if len(dims) <= 20 else dims[:: max(1, len(dims) // 10)])
            a.grid(axis="x", visible=False)

    width = 5.2 * (2 if kl is not None else 1) + 0.4
    return fg.render(draw, (width, 3.6))


def _usage_legend(fig, ax, active: np.ndarray) -> None:
    """Legend of the bar colours that occur (no "inactive" entry when every dimension is
    active) and the threshold line."""
    from matplotlib.patches import Patch

    kinds = ((fg.ACTIVE, "active", active.any()), (fg.COLLAPSED, "inactive", (~active).any()))
    handles = [
        *(Patch(color=colour, label=label) for colour, label, occurs in kinds if occurs),
        *ax.get_legend_handles_labels()[0],
    ]
    fig.legend(handles=handles, loc="outside lower center", ncols=len(handles))


def latent_map(proj: Projection, values: np.ndarray | None, name: str | None) -> bytes:
    """Scatter of the 2-D latent map coloured by ``values`` (text: legend; numbers: colourbar).

    Short category names are listed beside the map, long ones below it, on at most two lines
    of ``LEGEND_WIDTH`` characters, told apart (:func:`~biovae.reports.figures.shorten_apart`).
    """
    xy = proj.xy
    size = float(np.clip(5000.0 / max(len(xy), 1), 2.0, 30.0))
    labels, order = (
        (None, []) if values is None or not is_categorical(values) else (_category_labels(values))
    )
    named = [c for c in order if not c.startswith(OTHER)]
    # cut apart: study names sharing a long suffix keep the part that tells them apart
    shown = fg.shorten_apart(named, LEGEND_WIDTH, lines=2)
    below = bool(order) and max(len(f"{c} (0000)") for c in order) > 16
    rows = _legend_rows(labels, shown, len(order)) if below else 0

    def draw(fig) -> None:
        ax = fig.subplots()
        if values is None:
            ax.scatter(xy[:, 0], xy[:, 1], s=size, color=fg.TRAIN, alpha=0.6, lw=0)
        elif labels is not None:
            _categorical_scatter(ax, xy, labels, order, shown, size)
            _map_legend(fig, ax, size, len(order), below)
        else:
            _numeric_scatter(fig, ax, xy, values, size, name or "value")
        ax.set(xlabel=proj.labels[0], ylabel=proj.labels[1], title=name or "latent map")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.grid(False)

    return fg.render(draw, (5.4, 4.3 + 0.21 * rows))


def _category_labels(values: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Labels per record ("" = missing) and categories by frequency; beyond
    :data:`MAX_LEGEND`, the smallest become one group :data:`OTHER`, last. Levels are spelled
    as covariates and labels spell them (a NaN or None is missing, not a category "nan").
    The group's entry in the order is :data:`OTHER` followed by how many categories it holds.
    """
    labels = level_text(values)
    present, counts = np.unique(labels[labels != ""], return_counts=True)
    order = [str(c) for c in present[np.argsort(-counts, kind="stable")]]
    if len(order) > MAX_LEGEND:
        keep = np.isin(labels, order[: MAX_LEGEND - 1]) | (labels == "")
        labels = np.where(keep, labels, OTHER)
        order = [*order[: MAX_LEGEND - 1], f"{OTHER}{len(order) - MAX_LEGEND + 1}"]
    return labels, order


def _legend_rows(labels: np.ndarray, shown: list[str], n: int) -> int:
    """Text lines of a two-column legend below the map: its entries (missing, the named
    categories as ``shown``, the "others") fill the first column, then the second; a row is
    as tall as its taller entry."""
    heights = [1] * bool((labels == "").any()) + [s.count("\n") + 1 for s in shown]
    heights += [1] * (n - len(shown))
    first = -(-len(heights) // 2)
    return sum(max(heights[i : len(heights) : first]) for i in range(first))


def _categorical_scatter(
    ax, xy: np.ndarray, labels: np.ndarray, order: list[str], shown: list[str], size: float
) -> None:
    """Points of each category in ``order``, named in the legend as ``shown`` (the "others"
    grouped, grey, last)."""
    _missing_points(ax, xy, labels == "", size)
    named = [c for c in order if not c.startswith(OTHER)]
    for label, name, (colour, marker) in zip(named, shown, fg.category_styles(len(named))):
        sel = labels == label
        ax.scatter(
            xy[sel, 0],
            xy[sel, 1],
            s=size,
            color=colour,
            marker=marker,
            lw=0,
            alpha=0.85,
            zorder=2,
            label=f"{name} ({sel.sum()})",
        )
    if len(named) < len(order):  # grey and under the named categories, last in the legend
        sel = labels == OTHER
        others = order[-1].removeprefix(OTHER)
        ax.scatter(*xy[sel].T, s=size, color=fg.MUTED, lw=0, alpha=0.6, zorder=1.5,
                   label=f"{others} others ({sel.sum()})")  # fmt: skip


def _missing_points(ax, xy: np.ndarray, missing: np.ndarray, size: float) -> bool:
    """Grey points for the records without a value, counted in the legend; whether any."""
    if not missing.any():
        return False
    ax.scatter(
        xy[missing, 0],
        xy[missing, 1],
        s=size,
        color=fg.MISSING,
        lw=0,
        label=f"missing ({missing.sum()})",
    )
    return True


def _map_legend(fig, ax, size: float, n: int, below: bool) -> None:
    style = {
        "markerscale": max(1.0, 5.0 / np.sqrt(size)),
        "handletextpad": 0.2,
        "fontsize": 8.5 if n > 12 else 9,
    }
    if below:
        handles, labels = ax.get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside lower center", ncols=2, columnspacing=1.0, **style)
    else:
        ax.legend(
            loc="center left",
            bbox_to_anchor=(1.01, 0.5),
            ncols=2 if n > 16 else 1,
            borderaxespad=0.2,
            **style,
        )


def _numeric_scatter(fig, ax, xy: np.ndarray, values: np.ndarray, size: float, name: str) -> None:
    """Points coloured on a scale labelled ``name``; records without a value are grey and
    counted in a legend (unexplained grey points read as low values or as noise)."""
    v = np.asarray(values, dtype=np.float64)
    missing = ~np.isfinite(v)
    if _missing_points(ax, xy, missing, size):
        ax.legend(loc="lower right", bbox_to_anchor=(1.0, 1.0), borderaxespad=0.2)
    order = np.flatnonzero(~missing)
    order = order[np.argsort(v[order], kind="stable")]  # high values drawn on top
    points = ax.scatter(
        xy[order, 0], xy[order, 1], c=v[order], s=size, lw=0, alpha=0.9, cmap="viridis"
    )
    fig.colorbar(points, ax=ax, shrink=0.85, pad=0.02, label=fg.wrap_label(name, 40))
