"""Plots of a single-mutant scan: the letters × positions heatmap of Δ ELBO."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from biovae.applications.variants.mutations import scan_matrix
from biovae.reports import figures


def draw_scan(fig, grid: np.ndarray, positions: list[int], letters: list[str]) -> None:
    """Draw the scan matrix on ``fig`` (red = damaging, Δ < 0; wild type = 0 = white)."""
    limit = (float(np.nanmax(np.abs(grid))) if np.isfinite(grid).any() else 0.0) or 1.0
    ax = fig.add_subplot()
    im = ax.imshow(grid, aspect="auto", cmap="RdBu", vmin=-limit, vmax=limit, interpolation="none")
    ax.set_yticks(range(len(letters)), letters, fontsize=6)
    step = max(1, len(positions) // 25)
    ax.set_xticks(range(0, len(positions), step), positions[::step], fontsize=6, rotation=90)
    ax.set_xlabel("residue")
    fig.colorbar(im, ax=ax, label="Δ ELBO (mutant − wild type)")


def scan_heatmap(cols: dict, alphabet: str, size: tuple[float, float] | None = None) -> bytes:
    """PNG of the scan; ``size`` in inches defaults to a width growing with the positions."""
    grid, positions, letters = scan_matrix(cols, alphabet)
    size = size or (max(6.0, len(positions) / 12), 4.0)
    return figures.render(lambda fig: draw_scan(fig, grid, positions, letters), size)


def write_heatmap(path: Path, cols: dict, alphabet: str) -> Path:
    """Write :func:`scan_heatmap` atomically as a PNG file."""
    from biovae.data.writers import atomic_open

    with atomic_open(path, "wb") as fh:
        fh.write(scan_heatmap(cols, alphabet))
    return path
