"""Heatmap of a single-mutant scan: letters × match positions, coloured by Δ ELBO."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def scan_matrix(cols: dict, alphabet: str) -> tuple[np.ndarray, list[int], list[str]]:
    """Scores as a (letters, positions) matrix; NaN where a cell was not scored."""
    letters = [a for a in alphabet if a != "-"]
    positions = sorted(set(int(p) for p in cols["position"]))
    col_of = {p: i for i, p in enumerate(positions)}
    grid = np.full((len(letters), len(positions)), np.nan)
    for p, a, s in zip(cols["position"], cols["letter"], cols["score"]):
        grid[letters.index(a), col_of[int(p)]] = s
    return grid, positions, letters


def draw_scan(fig, grid: np.ndarray, positions: list[int], letters: list[str]) -> None:
    """Draw the scan matrix on ``fig`` (red = damaging, Δ < 0; wild type = 0 = white)."""
    limit = float(np.nanmax(np.abs(grid))) if np.isfinite(grid).any() else 1.0
    ax = fig.add_subplot()
    im = ax.imshow(
        grid, aspect="auto", cmap="RdBu", vmin=-limit or -1, vmax=limit or 1, interpolation="none"
    )
    ax.set_yticks(range(len(letters)), letters, fontsize=6)
    step = max(1, len(positions) // 25)
    ax.set_xticks(range(0, len(positions), step), positions[::step], fontsize=6, rotation=90)
    ax.set_xlabel("residue")
    fig.colorbar(im, ax=ax, label="Δ ELBO (mutant − wild type)")


def write_heatmap(path: Path, cols: dict, alphabet: str) -> Path:
    """Draw the scan and write it atomically as PNG."""
    from biovae.data.writers import atomic_open
    from biovae.reports.figures import render

    grid, positions, letters = scan_matrix(cols, alphabet)
    png = render(
        lambda fig: draw_scan(fig, grid, positions, letters), (max(6.0, len(positions) / 12), 4)
    )
    with atomic_open(path, "wb") as fh:
        fh.write(png)
    return path
