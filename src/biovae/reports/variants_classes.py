"""Report section for the EVE-style classes of a scan: the evolutionary indices with the fitted
two-Gaussian mixture, how many substitutions fall in each class, and how bimodal they are."""

from __future__ import annotations

import math

import numpy as np

from biovae.applications.variants.classes import Mixture, ScanClasses
from biovae.reports import figures
from biovae.reports.content import Highlight, Plot, Section, Table

#: ΔBIC above which the indices count as clearly two groups (Kass & Raftery's "very strong").
CLEAR = 10.0
#: Ashman's D below which two Gaussians overlap too much to be two groups (Ashman et al. 1994):
#: a narrow and a wide component with nearly one mean fit a heavy-tailed single population
#: far better than one Gaussian (ΔBIC in the hundreds) without splitting it in two.
SEPARATED = 2.0
_COLOURS = {"tolerated": "#4a6fa5", "damaging": "#c0392b"}


def classes_section(result: ScanClasses) -> Section:
    mix = result.mixture
    labels = result.label
    counts = {k: int((labels == k).sum()) for k in ("damaging", "uncertain", "tolerated")}
    total = sum(counts.values())
    rows = tuple((k, str(v), f"{v / total:.0%}" if total else "–") for k, v in counts.items())
    params = tuple(
        (name, f"{mix.weights[k]:.2f}", f"{mix.means[k]:.2f}", f"{mix.sds[k]:.2f}")
        for k, name in enumerate(("tolerated", "damaging"))
    )
    verdict = classes_verdict(counts, result.delta_bic, mix)
    plot = figures.render(lambda fig: _histogram(fig, result), (8.0, 3.4))
    return Section(
        "classes",
        "Damaging, tolerated, uncertain",
        lead=(
            "EVE's label-free classes: a two-component Gaussian mixture fitted to the "
            "evolutionary index (wild-type minus mutant ELBO, = −Δ ELBO) of every substitution; "
            "p_damaging is the posterior probability of the higher-mean component, held at "
            "its peak beyond it so that a higher index is never less damaging. The "
            f"{result.uncertain_fraction:.0%} of substitutions with the most uncertain "
            "probability are classed uncertain."
        ),
        verdict=verdict,
        plots=(
            Plot(
                "scan-classes",
                plot,
                "Histogram of evolutionary indices with the fitted mixture",
                caption="Bars: substitutions by index; curves: the two weighted components.",
            ),
        ),
        tables=(
            Table(("class", "substitutions", "share"), rows),
            Table(("component", "weight", "mean index", "sd"), params, "Fitted mixture"),
        ),
        notes=(
            "A class is a statement about the family's constraints, not a clinical verdict: "
            "EVE calls the same classes pathogenic / benign for human disease genes.",
        ),
        highlights=(Highlight(f"{counts['damaging']}", "substitutions classed damaging", None),),
    )


def ashman_d(mixture: Mixture) -> float:
    """Ashman's D = √2 |μ₁ − μ₂| / √(σ₁² + σ₂²) of the two components (> 2: separated)."""
    (m1, m2), (s1, s2) = mixture.means, mixture.sds
    return math.sqrt(2.0) * abs(m2 - m1) / math.hypot(s1, s2)


def classes_verdict(
    counts: dict[str, int], delta_bic: float, mixture: Mixture | None = None
) -> str:
    """One sentence on whether the classes mean two groups of substitutions: ``delta_bic``
    says two Gaussians fit better than one, ``mixture`` (when given) whether they are apart."""
    if not counts["damaging"] or not counts["tolerated"]:
        empty = "damaging" if not counts["damaging"] else "tolerated"
        return (
            f"No substitution is confidently {empty}: the mixture separates a tail of the "
            "indices rather than two groups, so the classes add nothing to the ranking."
        )
    if delta_bic <= CLEAR:
        return (
            f"The indices are not clearly bimodal (ΔBIC {delta_bic:.1f} ≤ {CLEAR:.0f}): the "
            "classes split one population at a threshold; read them as a ranking."
        )
    if mixture is not None and (d := ashman_d(mixture)) < SEPARATED:
        return (
            f"Two Gaussians fit the indices better than one (ΔBIC {delta_bic:.0f}), but they "
            f"overlap (means {mixture.means[0]:.2f} and {mixture.means[1]:.2f}, Ashman's D "
            f"{d:.2f} < {SEPARATED:.0f}): they describe the shape of one population, not two "
            "groups; read the classes as a ranking."
        )
    return f"The indices fall into two groups (ΔBIC {delta_bic:.0f} for two Gaussians over one)."


def _histogram(fig, result: ScanClasses) -> None:
    index = result.evolutionary_index[np.isfinite(result.p_damaging)]
    ax = fig.add_subplot()
    ax.hist(index, bins=60, density=True, color="#b8c4d6", edgecolor="none")
    grid = np.linspace(index.min(), index.max(), 400)
    dens = result.mixture.density(grid)
    for k, name in enumerate(("tolerated", "damaging")):
        ax.plot(grid, dens[:, k], color=_COLOURS[name], lw=2, label=name)
    ax.set_xlabel("evolutionary index (wild-type − mutant ELBO), nats")
    ax.set_ylabel("density")
    ax.legend(frameon=False)
