"""The scan heatmap as the report page shows it: cells not striped by grid lines, letters and
residue numbers large enough to read at the page's width."""

from __future__ import annotations

import numpy as np
import pytest

from biovae.reports import figures
from biovae.reports.plots_variants import scan_heatmap

pytest.importorskip("matplotlib")

#: Width (pixels) of a figure on the report page: 1180 px of content less the section padding.
PAGE_PX = 1080
LETTERS = "ACDEFGHIKLMNPQRSTVWY"


def _scan(n_positions: int) -> dict:
    """Every letter at ``n_positions`` residues from 24 on (the BLAT fixture's 253)."""
    position = np.repeat(np.arange(24, 24 + n_positions), len(LETTERS))
    letter = np.tile(np.array(list(LETTERS)), n_positions)
    score = np.random.default_rng(0).normal(-8, 4, len(position))
    return {"position": position, "letter": letter, "score": score}


def test_heatmap_cells_are_not_crossed_by_grid_lines(drawn) -> None:
    """Light grid lines over red cells read as white ones: Δ ELBO = 0, neutral substitutions."""
    scan_heatmap(_scan(40), LETTERS + "-")
    cells = [ax for ax in drawn[-1].axes if ax.images]
    assert cells
    for ax in cells:
        lines = [*ax.get_xgridlines(), *ax.get_ygridlines()]
        assert not any(line.get_visible() for line in lines)


def test_heatmap_of_a_long_protein_stays_legible_on_the_page(drawn) -> None:
    """253 positions drew one row 24 inches wide; the page shrank its 6 pt letters to 3 px."""
    scan_heatmap(_scan(253), LETTERS + "-")
    fig = drawn[-1]
    shrink = min(1.0, PAGE_PX / (fig.get_size_inches()[0] * figures.DPI))
    cells = [ax for ax in fig.axes if ax.images]
    labels = [t for ax in cells for t in (*ax.get_xticklabels(), *ax.get_yticklabels())]
    assert labels and set(LETTERS) <= {t.get_text() for t in labels}
    smallest = min(t.get_fontsize() for t in labels) * figures.DPI / 72 * shrink
    assert smallest >= 7.0  # pixels on the page
    shown = sum(len(ax.images[0].get_array()[0]) for ax in cells)
    assert shown == 253  # every position drawn once


def test_every_figure_of_the_scan_section_says_what_it_shows() -> None:
    from biovae.reports.variants_page import scan_section

    cols = _scan(30)
    cols["wild_type"] = np.repeat(np.array(list("AC" * 15)), len(LETTERS))
    section = scan_section(cols, LETTERS + "-")
    assert [p.key for p in section.plots] == ["scan-heatmap", "scan-profile"]
    assert all(p.caption for p in section.plots)
