"""HTML page of confounding audits: skill tables, verdicts and latent maps per model.

Drawn by :func:`~biovae.reports.html.render_document` like every page: self-contained
(inline CSS, figures as base64 PNG), its maps captioned and counted by the image-loaded check,
and written atomically.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Any

import numpy as np

from biovae.reports.content import Plot, Section, Table


@dataclass(frozen=True)
class AuditPanel:
    """One audited model: its name, audit result, posterior means and colouring columns;
    ``technical`` and ``biological`` name the covariates of each role (the maps' captions say
    what a separation by each means)."""

    title: str
    result: Mapping[str, Any]
    z: np.ndarray
    colour_by: Mapping[str, np.ndarray]
    technical: Sequence[str] = ()
    biological: Sequence[str] = ()


def _se(result: Mapping[str, Any], key: str) -> str:
    """`` ± SE`` where the result holds one (audits saved before it had none)."""
    return f" ± {result[key]:.3f}" if key in result else ""


def skill_text(r: Mapping[str, Any]) -> str:
    """One covariate's cross-validated skill as the page and the command line state it."""
    if r["kind"] == "categorical":
        return (
            f"balanced accuracy {r['balanced_accuracy']:.3f}{_se(r, 'balanced_accuracy_se')} "
            f"(chance {r['chance']:.3f}), AUROC {r['auroc']:.3f}"
        )
    return f"cross-validated R² {r['r2']:.3f}{_se(r, 'r2_se')}"


def dimensions_text(r: Mapping[str, Any], most: int = 6) -> str:
    """The dimensions carrying a covariate, strongest first, named as ``biovae embed``'s
    columns (``z_1`` is dimension 0 of audit.json's ``carrying_dimensions``), and with grouped
    records the number of group means the dimensions were tested on."""
    dims = r["carrying_dimensions"]
    more = f" and {len(dims) - most} more" if len(dims) > most else ""
    means = f" (tested on {r['attribution_n']} group means)" if "attribution_n" in r else ""
    return (", ".join(f"z_{k + 1}" for k in dims[:most]) or "none") + more + means


def _folds(r: Mapping[str, Any]) -> str:
    """The folds of one covariate, and the groups its records lie in when folds are grouped."""
    return f"{r['folds']} ({r['groups']} groups)" if "groups" in r else str(r["folds"])


def _table(result: Mapping[str, Any]) -> Table:
    rows = []
    for name, r in result["covariates"].items():
        left = r["missing"] + len(r.get("rare_levels", ()))
        rows.append(
            (name, skill_text(r), dimensions_text(r), str(r["records"]), str(left), _folds(r))
        )
    columns = ("covariate", "predicted from z", "carried by", "n", "left out", "folds")
    return Table(columns, tuple(rows))


#: How to read the table, at the end of the page: above the results it was a paragraph of
#: methods to read before the verdict.
GUIDE = (
    "<p class='guide'><strong>Predicted from z</strong>: how well each covariate is predicted "
    "from the posterior means by a standardised logistic regression (categories: balanced "
    "accuracy against chance = 1 / levels, and AUROC) or ridge regression (numbers: R²), "
    "cross-validated over the stated number of folds (stratified by level; fewer than asked "
    "when a level has fewer records or, with folds grouped by subject, lies in fewer groups), "
    "± its standard error. <strong>Carried by</strong>: "
    "latent dimensions, named as <code>biovae embed</code> names its columns (z_1 first), "
    "that alone separate the covariate (univariate AUROC ≥ 0.65, or "
    "|Spearman ρ| ≥ 0.3) beyond chance "
    "(p &lt; 0.05 / dimensions; with folds grouped by subject, p of the subjects' mean "
    "positions, each subject once). <strong>n</strong>: records audited; "
    "<strong>left out</strong>: "
    "records with the covariate missing, or of a level seen once. The verdict compares the "
    "chance-corrected skill of the technical and the biological covariate: a gap within twice "
    "its standard error, or covariates whose levels nest (each batch one condition), give no "
    "verdict of dominance.</p>"
)


def _map_values(values: np.ndarray, result: Mapping[str, Any] | None) -> np.ndarray:
    """A covariate as its audit read it: a categorical one (text, a batch coded 1..5) as
    levels with a legend, the values it left out as missing; a number as numbers (beside
    "unknown" too) on a colour scale."""
    from biovae.diagnostics.confounding_columns import as_numbers, is_missing
    from biovae.levels import MISSING, level_text

    if result is None or result.get("kind") != "categorical":
        return as_numbers(values)
    levels = level_text(values)
    levels[is_missing(values)] = MISSING
    return levels


#: What a map separated by a covariate of each role means.
_MEANING = {
    "technical": " (technical): a batch effect the latent space carries, not biology",
    "biological": " (biological): the biology the latent space should keep",
}


def map_caption(name: str, r: Mapping[str, Any] | None, panel: AuditPanel) -> str:
    """What the map coloured by ``name`` shows and how to read it; the audit's numbers are in
    the table and its verdict above it, once (each caption repeated them)."""
    role = (
        "technical" if name in panel.technical else "biological" if name in panel.biological else ""
    )
    if r is not None and r.get("kind") == "continuous":
        look = f"if the colour runs from one side of the map to the other, the map records {name}"
    else:
        look = f"if the points separate by {name}, one colour to a region, the map records {name}"
    return f"Coloured by {name}: {look}{_MEANING.get(role, '')}; if the colours mix, it does not."


def _maps(panel: AuditPanel, uid: str) -> tuple[Plot, ...]:
    from biovae.reports.analysis import project_2d
    from biovae.reports.plots import latent_map

    proj = project_2d(panel.z)
    plots = []
    for i, (name, values) in enumerate(panel.colour_by.items()):
        r = panel.result["covariates"].get(name)
        png = latent_map(proj, _map_values(values, r), name)
        caption = map_caption(name, r, panel)
        plots.append(Plot(f"{uid}-map-{i}", png, f"latent map by {name}", caption, wide=False))
    return tuple(plots)


def _section(i: int, panel: AuditPanel) -> Section:
    from biovae.diagnostics.confounding_groups import grouping_text

    verdict = panel.result.get("verdict")
    grouped = grouping_text(panel.result)
    return Section(
        f"audit-{i + 1}",
        panel.title,
        lead=(
            "Each map places every record at its posterior mean, projected to two dimensions, "
            "and colours it by one covariate; the table says how well the whole latent space "
            "predicts each covariate." + (f" {grouped}." if grouped else "")
        ),
        verdict=f"Verdict: {verdict['text']}" if verdict else "",
        tables=(_table(panel.result),),
        plots=_maps(panel, f"audit-{i + 1}"),
    )


def render_audit_page(
    panels: Sequence[AuditPanel], title: str, notes: str = "", tagline: str = ""
) -> str:
    """The full HTML text; ``notes`` (HTML, e.g. the files audited) go above the contents,
    the guide to the table after the results."""
    from biovae.reports.html import render_document

    parts = [_section(i, p) for i, p in enumerate(panels)]
    toc = "".join(f'<li><a href="#{escape(s.id)}">{escape(s.title)}</a></li>' for s in parts)
    toc += "<li><a href='#guide'>How to read the audit</a></li>"
    extra = f"<div class='note'>{notes}</div>" if notes else ""
    overview = (
        f"<section class='card' id='summary'>{extra}"
        f"<nav class='toc' aria-label='Contents'><ol>{toc}</ol></nav></section>"
    )
    guide = (
        "<section class='report-section' id='guide'><h2>How to read the audit</h2>"
        f"{GUIDE}</section>"
    )
    return render_document(title, tagline, overview, parts, guide)


def write_audit_page(
    path: str | Path,
    panels: Sequence[AuditPanel],
    title: str,
    notes: str = "",
    tagline: str = "",
) -> Path:
    """Write :func:`render_audit_page` to ``path`` atomically."""
    from biovae.reports.html import write_page

    return write_page(path, render_audit_page(panels, title, notes, tagline))
