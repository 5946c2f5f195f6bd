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


def _with_wild_type(n_positions: int, wild: str) -> dict:
    """:func:`_scan` with the wild-type letter of residue 24 + i being ``wild[i % len(wild)]``
    and its own cell scored 0, as ``biovae variants scan`` writes it."""
    cols = _scan(n_positions)
    wt = np.array([wild[i % len(wild)] for i in range(n_positions)])
    cols["wild_type"] = np.repeat(wt, len(LETTERS))
    cols["score"] = np.where(cols["letter"] == cols["wild_type"], 0.0, cols["score"])
    return cols


def _dots(fig) -> np.ndarray:
    """(residue, letter) of every dot drawn on the heatmap's cells, residue order."""
    found = []
    for ax in fig.axes:
        if not ax.images:
            continue
        for points in ax.collections:
            for x, y in points.get_offsets():
                found.append((int(np.rint(x)) + 24, LETTERS[int(np.rint(y))]))
    return np.array(sorted(found), dtype=object)


def test_heatmap_marks_the_wild_type_letter_of_every_position(drawn) -> None:
    """DeepSequence / EVE figures mark the wild type; white alone read as a neutral mutant."""
    wild = "MKVWQ"
    scan_heatmap(_with_wild_type(253, wild), LETTERS + "-")
    fig = drawn[-1]
    dots = _dots(fig)
    assert len(dots) == 253  # one per position, over all strips of 90
    expected = [(24 + i, wild[i % len(wild)]) for i in range(253)]
    assert [tuple(d) for d in dots] == expected
    labels = [t.get_text() for legend in fig.legends for t in legend.get_texts()]
    assert labels == ["wild-type letter (Δ = 0)"]  # the standalone PNG explains its dots
    # a dot reads at the page's width yet covers at most half a cell of a 253-residue scan
    cell_pt = fig.get_size_inches()[0] * 72 / 90
    cells = [ax for ax in fig.axes if ax.images]
    sizes = [s for ax in cells for c in ax.collections for s in c.get_sizes()]
    assert all(2.0 <= np.sqrt(s) <= cell_pt / 2 for s in sizes)


def test_heatmap_without_a_wild_type_column_draws_no_dots(drawn) -> None:
    scan_heatmap(_scan(40), LETTERS + "-")
    assert len(_dots(drawn[-1])) == 0 and not drawn[-1].legends


def test_the_scan_caption_explains_the_wild_type_dots() -> None:
    from biovae.reports.variants_page import scan_section

    section = scan_section(_with_wild_type(30, "AC"), LETTERS + "-")
    caption = section.plots[0].caption
    assert "dot marks each position's wild-type letter" in caption and "0" in caption


def _scan_of(letters: str, n: int = 12) -> dict:
    """A scan table of ``n`` positions over ``letters``: Δ 0 at the wild type, −1 elsewhere."""
    wt = np.array([letters[i % len(letters)] for i in range(n)])
    cols = {
        "position": np.repeat(np.arange(1, n + 1), len(letters)),
        "letter": np.tile(np.array(list(letters)), n),
        "wild_type": np.repeat(wt, len(letters)),
    }
    cols["score"] = np.where(cols["letter"] == cols["wild_type"], 0.0, -1.0)
    return cols


@pytest.mark.parametrize("alphabet", ["ACGT", LETTERS])
def test_the_dots_legend_and_the_colour_bar_label_fit_beside_each_other(drawn, alphabet) -> None:
    """A DNA model's scan (4 letters, one strip) was a figure 2 inches tall: the colour bar's
    label ran past its top, under the wild-type legend, and off the figure."""
    scan_heatmap(_scan_of(alphabet), alphabet + "-")
    fig = drawn[-1]
    renderer = fig.canvas.get_renderer()
    page = fig.bbox
    (legend,) = fig.legends
    bar = next(ax for ax in fig.axes if not ax.images and ax.get_ylabel())
    label = bar.yaxis.label.get_window_extent(renderer)
    box = legend.get_window_extent(renderer)
    assert not label.overlaps(box)
    for part in (label, box):
        assert (
            page.x0 <= part.x0 and part.x1 <= page.x1 and page.y0 <= part.y0 <= part.y1 <= page.y1
        )


@pytest.mark.parametrize(("alphabet", "substitutions"), [("ACGT-", 3), (LETTERS + "-", 19)])
def test_the_profile_caption_counts_the_substitutions_of_the_models_alphabet(
    alphabet, substitutions
) -> None:
    """The profile said "Mean over the 19 substitutions" for a DNA model too, which has 3."""
    from biovae.reports.variants_page import scan_section

    caption = scan_section(_scan_of(alphabet.replace("-", "")), alphabet).plots[1].caption
    assert caption.startswith(f"Mean over the {substitutions} substitutions at each position")
