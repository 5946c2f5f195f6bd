"""Plots of a single-mutant scan: the letters × positions heatmap of Δ ELBO; NaN (a cell
not scored) is grey, the wild-type letter of each position marked by a dot."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from biovae.applications.variants.mutations import scan_matrix
from biovae.reports import figures
from biovae.reports.plots_data import MISSING_GREY, POSITIONS_PER_ROW

#: Area (points²) of the dot marking a wild-type cell: about a third of a cell's width at
#: :data:`POSITIONS_PER_ROW` positions per strip, so it reads without hiding the colour.
WILD_DOT = 7.0
#: Least height (inches) of the heatmap: the colour bar's label, as tall as the strips, and the
#: dots' legend above it both fit (one strip of DNA's 4 letters was 2 inches: the label ran off
#: the figure and under the legend)
MIN_HEIGHT = 3.4


def draw_scan(
    fig,
    grid: np.ndarray,
    positions: list[int],
    letters: list[str],
    wild_rows: np.ndarray | None = None,
) -> None:
    """Draw the scan matrix on ``fig`` (red = damaging, Δ < 0; wild type = 0 = white), in rows
    of at most :data:`POSITIONS_PER_ROW` positions on one colour scale: one row of 250+
    positions was a figure 24 inches wide, its letters shrunk to 3 pixels on the page.

    ``wild_rows``: per column, the row of its wild-type letter (−1: unknown), marked by a dark
    dot and named in a legend (DeepSequence/EVE mark it: white alone read as a neutral
    substitution)."""
    limit = (float(np.nanmax(np.abs(grid))) if np.isfinite(grid).any() else 0.0) or 1.0
    cmap = figures.colormap("RdBu").with_extremes(bad=MISSING_GREY)
    starts = range(0, len(positions), POSITIONS_PER_ROW)
    axes = fig.subplots(len(starts), 1, squeeze=False)[:, 0]
    for ax, start in zip(axes, starts):
        stop = min(start + POSITIONS_PER_ROW, len(positions))
        im = ax.imshow(
            grid[:, start:stop],
            aspect="auto",
            cmap=cmap,
            vmin=-limit,
            vmax=limit,
            interpolation="none",
            extent=(start - 0.5, stop - 0.5, len(letters) - 0.5, -0.5),
        )
        ax.set_yticks(range(len(letters)), letters, fontsize=7)
        ticks = residue_ticks(positions, start, stop)
        ax.set_xticks(ticks, [str(positions[c]) for c in ticks], fontsize=8)
        ax.set_xlim(start - 0.5, start + min(POSITIONS_PER_ROW, len(positions)) - 0.5)
        ax.grid(False)  # grid lines over the cells read as white (neutral) cells
        if wild_rows is not None:
            _mark_wild_type(ax, wild_rows, start, stop)
    axes[-1].set_xlabel("residue")
    fig.supylabel("mutant letter", fontsize=10.5)
    fig.colorbar(im, ax=list(axes), shrink=0.8, pad=0.01, label="Δ ELBO, nats (mutant − wild type)")
    if wild_rows is not None and (wild_rows >= 0).any():
        fig.legend(loc="outside upper right", fontsize=8.5, markerscale=1.6, handletextpad=0.2)


def _mark_wild_type(ax, wild_rows: np.ndarray, start: int, stop: int) -> None:
    """A dot in the wild-type cell of columns ``start`` .. ``stop`` (one legend entry)."""
    cols = np.arange(start, stop)
    known = wild_rows[start:stop] >= 0
    ax.scatter(
        cols[known],
        wild_rows[start:stop][known],
        s=WILD_DOT,
        marker="o",
        color=figures.INK,
        lw=0,
        label="wild-type letter (Δ = 0)" if start == 0 else None,
    )


def wild_type_rows(cols: dict, positions: list[int], letters: list[str]) -> np.ndarray | None:
    """Per position of :func:`scan_matrix`, the row of its wild-type letter (−1 where it is
    not one of ``letters``); None for a scan table without a ``wild_type`` column."""
    if "wild_type" not in cols:
        return None
    wild = {int(p): str(w) for p, w in zip(cols["position"], cols["wild_type"])}
    row = {a: i for i, a in enumerate(letters)}
    return np.array([row.get(wild[p], -1) for p in positions], dtype=int)


def residue_ticks(positions: list[int], start: int, stop: int, step: int = 10) -> list[int]:
    """Columns ``start`` .. ``stop`` of the heatmap to tick: those whose residue number is a
    multiple of ``step`` (every 10th column read 29, 39, 49, 60, ... where an insert column
    was skipped), at least ``step`` // 2 columns apart; every ``step``-th column where the
    numbering has too few round numbers (a sparse or jumping numbering)."""
    ticks: list[int] = []
    for c in range(start, stop):
        if positions[c] % step == 0 and (not ticks or c - ticks[-1] >= step // 2):
            ticks.append(c)
    if len(ticks) < max(1, (stop - start) // (2 * step)):
        return list(range(start, stop, step))
    return ticks


def scan_heatmap(cols: dict, alphabet: str) -> bytes:
    """PNG of the scan, as wide as the report page shows it unscaled (narrower for few
    positions), one row of cells per :data:`POSITIONS_PER_ROW` positions, wild-type cells
    dotted."""
    grid, positions, letters = scan_matrix(cols, alphabet)
    wild = wild_type_rows(cols, positions, letters)
    rows = -(-len(positions) // POSITIONS_PER_ROW)
    width = min(12.0, max(6.0, 2.5 + len(positions) / 9))
    size = (width, max(MIN_HEIGHT, 0.7 + rows * (0.8 + 0.13 * len(letters))))
    return figures.render(lambda fig: draw_scan(fig, grid, positions, letters, wild), size)


def write_heatmap(path: Path, cols: dict, alphabet: str) -> Path:
    """Write :func:`scan_heatmap` atomically as a PNG file."""
    from biovae.data.writers import atomic_open

    with atomic_open(path, "wb") as fh:
        fh.write(scan_heatmap(cols, alphabet))
    return path
