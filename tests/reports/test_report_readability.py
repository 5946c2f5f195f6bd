"""What a reader meets first on each page: named axes on every plot of the model report, the
scan report's result before its model card and its residues ticked at round numbers, and
the audit's verdict before its methods."""

from __future__ import annotations

import re

import numpy as np
import pytest

from biovae.reports import audit_page, plots, variants_page, write_report
from biovae.reports.content import Section
from biovae.reports.plots_variants import scan_heatmap

pytest.importorskip("matplotlib")

LETTERS = "ACDEFGHIKLMNPQRSTVWY"


def _unlabelled(fig) -> list[str]:
    """Axes of ``fig`` holding data whose x or y axis has no label (the figure's shared
    ``supxlabel`` / ``supylabel`` count); colour bars are labelled by their own test."""
    sup_x = fig._supxlabel is not None and fig._supxlabel.get_text()
    sup_y = fig._supylabel is not None and fig._supylabel.get_text()
    bad = []
    for i, ax in enumerate(fig.axes):
        if ax.get_label() == "<colorbar>" or not (ax.images or ax.collections or ax.lines):
            continue
        x = ax.get_xlabel() or sup_x
        # a heatmap's right-hand panel shares the y axis (and its label) with the left one
        shared = ax.get_shared_y_axes().get_siblings(ax)
        y = ax.get_ylabel() or sup_y or any(s.get_ylabel() for s in shared)
        if not (x and y):
            bad.append(f"axes {i} ({ax.get_title(loc='left') or ax.get_title()}): x={x!r} y={y!r}")
    return bad


def test_every_plot_of_the_model_report_names_its_axes(
    fast_render, pbmc_vae, pbmc, tmp_path
) -> None:
    """The marker dot plot (genes × cell types) and the reconstruction heatmap (records ×
    features) had no axis labels: a reader had to guess what the rows were."""
    write_report(pbmc_vae, tmp_path / "r.html", data=pbmc)
    assert len(fast_render) >= 8
    bad = [f"figure {i}: {b}" for i, f in enumerate(fast_render) for b in _unlabelled(f)]
    assert bad == []


def test_the_dot_plot_names_the_column_of_its_groups(fast_render) -> None:
    import pandas as pd

    from biovae.reports.sections_markers import dot_plot

    t = pd.DataFrame({"non_zeros_proportion1": [0.5], "raw_normalized_mean1": [1.0]}, index=["g"])
    dot_plot([t, t], {"B": ["g"], "T": ["g"]}, "bulk_labels")
    ax = fast_render[-1].axes[0]
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("marker gene", "bulk_labels")


def _scan(positions: np.ndarray, worst: dict[int, float] | None = None) -> dict:
    """Every letter at ``positions`` (wild type: A), scores 0 ± 0.1 except the mean shifts
    given by ``worst`` (residue → Δ added to each of its substitutions)."""
    position = np.repeat(positions, len(LETTERS))
    letter = np.tile(np.array(list(LETTERS)), len(positions))
    score = np.random.default_rng(0).normal(0.0, 0.1, len(position))
    for residue, shift in (worst or {}).items():
        score[position == residue] += shift
    wild = np.full(len(position), "A")
    score[letter == wild] = 0.0
    return {
        "position": position,
        "letter": letter,
        "wild_type": wild,
        "score": score,
        "se": np.full(len(position), 0.01),
        "independent_site": score * 0.5,
    }


def test_scan_heatmap_ticks_residues_at_round_numbers(fast_render) -> None:
    """BLAT's match columns 29..283 skip insert residues: every 10th column was ticked
    29, 39, 49, 60, 70, ... (a protein engineer reads residue numbers, not column counts)."""
    positions = np.r_[np.arange(29, 50), np.arange(52, 284)]  # 50 and 51 are inserts
    scan_heatmap(_scan(positions), LETTERS + "-")
    fig = fast_render[-1]
    strips = [ax for ax in fig.axes if ax.images]
    labels = [int(t.get_text()) for ax in strips for t in ax.get_xticklabels() if t.get_text()]
    assert labels[:4] == [30, 40, 60, 70]  # 50 is not a match column: no tick for it
    assert all(v % 10 == 0 for v in labels) and len(labels) >= 20
    columns = [int(c) for ax in strips for c in ax.get_xticks()]
    assert min(np.diff(columns)) >= 5  # far enough apart to read
    bar = [ax for ax in fig.axes if ax.get_label() == "<colorbar>"]
    assert "nats" in bar[0].get_ylabel()


@pytest.mark.parametrize(
    ("positions", "first"),
    [
        (np.arange(40) * 10 + 5, [5, 105, 205]),  # no round number: every 10th column
        (np.arange(40) * 10, [0, 50, 100]),  # all round: every 5th column, not every one
    ],
)
def test_scan_heatmap_of_an_odd_numbering_ticks_apart(fast_render, positions, first) -> None:
    scan_heatmap(_scan(positions), LETTERS + "-")
    strip = next(ax for ax in fast_render[-1].axes if ax.images)
    assert [int(t.get_text()) for t in strip.get_xticklabels()][:3] == first


class _Fitted:
    """What the scan page reads of a fitted family besides its model card."""

    def __init__(self) -> None:
        self.alphabet = LETTERS + "-"
        self.facts = {"focus_id": "BLAT_ECOLX/24-286"}


def test_scan_report_shows_the_scan_before_the_model_card(fast_render, monkeypatch) -> None:
    """The page opened on a 14-row model card; the heatmap, its result, came second. The
    profile's caption names the most intolerant residues (the lowest mean Δ)."""
    card = Section("model", "Model card", lead="facts")
    monkeypatch.setattr(variants_page, "model_section", lambda fitted, mean_weights: card)
    cols = _scan(np.arange(24, 64), worst={30: -3.0, 41: -2.0, 55: -1.0})
    page = variants_page.variants_report_page(cols, _Fitted())
    ids = re.findall(r'<section class="report-section" id="([^"]+)"', page)
    assert ids == ["scan", "ranking", "model"]
    caption = re.findall(r"<figcaption>(.*?)</figcaption>", page)[1]
    named = re.search(r"Most intolerant \(mean Δ ELBO, nats\): (.*)\.$", caption)
    assert named is not None
    residues = [part.split()[0] for part in named.group(1).split(", ")]
    assert residues[:3] == ["A30", "A41", "A55"] and len(residues) == 5
    assert float(named.group(1).split(", ")[0].split()[1]) == pytest.approx(-3.0, abs=0.1)
    profile = fast_render[1].axes[0]
    assert profile.get_ylabel() == "mean Δ ELBO (nats)"


def test_audit_page_gives_its_verdict_before_the_methods(monkeypatch) -> None:
    """A microbiome researcher met a 150-word methods paragraph before the verdict."""
    monkeypatch.setattr(plots, "latent_map", lambda proj, values, name: b"")
    n = 12
    audited = {
        "kind": "categorical",
        "balanced_accuracy": 0.9,
        "chance": 0.5,
        "auroc": 0.95,
        "carrying_dimensions": [1],
        "records": n,
        "missing": 0,
        "folds": 3,
    }
    result = {
        "covariates": {"studyID": audited},
        "verdict": {"technical": "studyID", "biological": "x", "text": "'studyID' dominates"},
    }
    z = np.random.default_rng(0).normal(size=(n, 3))
    studies = np.array(["FengQ_2015", "YuJ_2015"] * (n // 2), dtype=object)
    panel = audit_page.AuditPanel("m", result, z, {"studyID": studies}, ["studyID"], [])
    page = audit_page.render_audit_page([panel], "audit", "Data /data/abund.tsv.")
    verdict = page.index('<p class="verdict">')
    assert verdict < page.index("<strong>Predicted from z</strong>")
    assert verdict < page.index("<table")  # the table still follows its verdict
    links = re.findall(r"href=['\"]#([^'\"]+)['\"]", page)
    ids = set(re.findall(r"id=['\"]([^'\"]+)['\"]", page))
    assert "guide" in links and set(links) <= ids  # every link of the contents lands
