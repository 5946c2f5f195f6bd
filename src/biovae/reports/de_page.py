"""Report of differential expression: a volcano plot and the top genes of each comparison."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from biovae.reports import figures as fg
from biovae.reports.content import Highlight, Plot, Section, Table

#: Genes named on the volcano plot and listed in each comparison's table.
TOP = 20
CALLED = "#dc2626"


def _calls(table: Any) -> np.ndarray:
    col = next(c for c in table.columns if c.startswith("is_de_"))
    return table[col].to_numpy(dtype=bool)


def volcano(table: Any, title: str) -> bytes:
    """lfc_mean against proba_de; called genes in red, the 10 most probable labelled."""
    lfc, p, called = table["lfc_mean"].to_numpy(), table["proba_de"].to_numpy(), _calls(table)

    def draw(fig) -> None:
        ax = fig.subplots()
        n = int(called.sum())
        ax.scatter(lfc[~called], p[~called], s=6, color=fg.MUTED, lw=0, label="not called")
        ax.scatter(lfc[called], p[called], s=10, color=CALLED, lw=0, label=f"called ({n})")
        for i in np.argsort(-p, kind="stable")[: min(TOP, 10)]:
            ax.annotate(
                str(table.index[i]),
                (lfc[i], p[i]),
                fontsize=8,
                color=fg.INK,
                xytext=(3, 2),
                textcoords="offset points",
            )
        ax.axvline(0, color=fg.INK, lw=0.6)
        ax.set(
            title=title,
            xlabel="mean log2 fold change (group 1 / group 2)",
            ylabel="P(DE)"
            if table.attrs.get("mode") == "vanilla"
            else "P(differentially expressed)",
            ylim=(-0.02, 1.02),
        )
        ax.legend(loc="lower right")

    return fg.render(draw, (7.5, 4.8))


def de_section(table: Any, index: int = 0) -> Section:
    """One comparison: its volcano plot, the number of calls and its ``TOP`` genes."""
    attrs = table.attrs
    name = f"{attrs.get('group1', '1')} vs {attrs.get('group2', '2')}"
    called = _calls(table)
    top = table.iloc[np.argsort(-table["proba_de"].to_numpy(), kind="stable")[:TOP]]
    rows = tuple(
        (
            str(g),
            f"{r.lfc_mean:+.2f}",
            f"{r.proba_de:.3f}",
            f"{r.bayes_factor:+.2f}",
            f"{r.scale1:.2e}",
            f"{r.scale2:.2e}",
            "yes" if c else "",
        )
        for (g, r), c in zip(top.iterrows(), _calls(top))
    )
    lead = f"{attrs.get('n1', '?')} against {attrs.get('n2', '?')} cells; " + _method(attrs)
    return Section(
        f"de-{index}",
        name,
        lead,
        plots=(
            Plot(
                f"de-volcano-{index}",
                volcano(table, name),
                f"Volcano plot of {name}",
                "Red: called.",
            ),
        ),
        highlights=(Highlight(str(int(called.sum())), f"genes called, {name}"),),
        tables=(
            Table(
                ("gene", "lfc mean", "P(DE)", "log Bayes factor", "scale 1", "scale 2", "called"),
                rows,
                f"The {TOP} most probable genes",
            ),
        ),
    )


def _method(attrs: dict) -> str:
    batch = attrs.get("batch_correction")
    within = (
        f" Both groups are decoded under the same level of {batch}, level by level, so each "
        "fold change is taken within one batch (batch correction)."
        if batch
        else " Every cell is decoded with its own covariates (no batch correction)."
    )
    if attrs.get("mode") == "vanilla":
        return (
            "vanilla mode. P(DE) is the posterior probability of the more probable sign of the "
            "change between random cells of the two groups (h1 > h2 or h1 < h2); called genes "
            f"have |log Bayes factor| ≥ {attrs.get('bayes_factor', 3.0):g}, whatever the size "
            "of the change." + within
        )
    return (
        f"change mode, δ = {attrs.get('delta', 0.25)} (log2), pseudocount "
        f"{attrs.get('pseudocount', 0):.2g}. P(DE) is the posterior probability that the log2 "
        "fold change between random cells of the two groups exceeds δ in its more probable "
        "direction; called genes keep the posterior expected false discovery rate at "
        f"{attrs.get('fdr', 0.05):g}." + within
    )


def write_de_report(
    path: str | Path, tables: list[Any], title: str, files: tuple[tuple[str, str], ...] = ()
) -> Path:
    """A page with one section per comparison (``tables`` from
    :func:`biovae.applications.differential.differential_expression`), written atomically;
    ``files``: (what, full path) rows of its "Inputs" card."""
    from biovae.reports.html import write_sections_page

    parts = [de_section(t, i) for i, t in enumerate(tables)]
    modes = sorted({str(t.attrs.get("mode", "change")) for t in tables})
    tagline = f"Bayesian differential expression ({', '.join(modes)} mode) from a count VAE"
    return write_sections_page(path, title, tagline, parts, files)
