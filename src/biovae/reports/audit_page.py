"""HTML page of confounding audits: skill tables, verdicts and latent maps per model.

Self-contained (inline CSS, figures as base64 PNG) and written atomically.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Any

import numpy as np

from biovae.reports.style import CSS


@dataclass(frozen=True)
class AuditPanel:
    """One audited model: its name, audit result, posterior means and colouring columns."""

    title: str
    result: Mapping[str, Any]
    z: np.ndarray
    colour_by: Mapping[str, np.ndarray]


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
    columns (``z_1`` is dimension 0 of audit.json's ``carrying_dimensions``)."""
    dims = r["carrying_dimensions"]
    more = f" and {len(dims) - most} more" if len(dims) > most else ""
    return (", ".join(f"z_{k + 1}" for k in dims[:most]) or "none") + more


def _table(result: Mapping[str, Any]) -> str:
    rows = []
    for name, r in result["covariates"].items():
        skill, dims = skill_text(r), dimensions_text(r)
        left = r["missing"] + len(r.get("rare_levels", ()))
        rows.append(
            f"<tr><th>{escape(name)}</th><td>{skill}</td><td>{dims}</td>"
            f"<td>{r['records']}</td><td>{left}</td><td>{r['folds']}</td></tr>"
        )
    head = (
        "<tr><th>covariate</th><th>predicted from z</th><th>carried by</th><th>n</th>"
        "<th>left out</th><th>folds</th></tr>"
    )
    return f"<table>{head}{''.join(rows)}</table>"


#: How to read the table, under every page's title.
GUIDE = (
    "<p class='guide'><strong>Predicted from z</strong>: how well each covariate is predicted "
    "from the posterior means by a standardised logistic regression (categories: balanced "
    "accuracy against chance = 1 / levels, and AUROC) or ridge regression (numbers: R²), "
    "cross-validated over the stated number of folds (stratified by level; fewer than asked "
    "when a level has fewer records), ± its standard error. <strong>Carried by</strong>: "
    "latent dimensions, named as <code>biovae embed</code> names its columns (z_1 first), "
    "that alone separate the covariate (univariate AUROC ≥ 0.65, or "
    "|Spearman ρ| ≥ 0.3) beyond chance "
    "(p &lt; 0.05 / dimensions). <strong>n</strong>: records audited; <strong>left out</strong>: "
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


def _maps(panel: AuditPanel) -> str:
    from biovae.reports.analysis import project_2d
    from biovae.reports.plots import latent_map

    proj = project_2d(panel.z)
    imgs = []
    for name, values in panel.colour_by.items():
        shown = _map_values(values, panel.result["covariates"].get(name))
        png = base64.b64encode(latent_map(proj, shown, name)).decode()
        imgs.append(f'<img alt="latent map by {escape(name)}" src="data:image/png;base64,{png}">')
    return "".join(imgs)


def render_audit_page(panels: Sequence[AuditPanel], title: str, notes: str = "") -> str:
    """The full HTML text."""
    parts = [f"<h1>{escape(title)}</h1>", GUIDE]
    if notes:
        parts.append(f"<div class='card'>{notes}</div>")
    for p in panels:
        verdict = p.result.get("verdict")
        parts.append(f"<section class='card'><h2>{escape(p.title)}</h2>")
        if verdict:
            parts.append(f"<p><strong>Verdict:</strong> {escape(verdict['text'])}</p>")
        parts.append(_table(p.result))
        parts.append(f"<div class='maps'>{_maps(p)}</div></section>")
    style = CSS + ".maps img{max-width:48%;margin:6px} table{border-collapse:collapse}"
    style += " td,th{padding:4px 10px;border-bottom:1px solid #e4e7eb;text-align:left}"
    body = "\n".join(parts)
    return (
        f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{escape(title)}"
        f"</title><style>{style}</style></head><body><main>{body}</main></body></html>"
    )


def write_audit_page(
    path: str | Path, panels: Sequence[AuditPanel], title: str, notes: str = ""
) -> Path:
    """Write :func:`render_audit_page` to ``path`` atomically."""
    from biovae.data.writers import atomic_open

    html = render_audit_page(panels, title, notes)
    with atomic_open(path, "w") as fh:
        fh.write(html)
    return Path(path)
