"""Report of a family model's single-mutant scan: heatmap, sensitivity profile, extremes,
(when given) the EVE-style damaging / tolerated / uncertain classes, and the model card.

Input is the scan table (columns of :func:`biovae.cli.variants_cmds.cmd_scan`) and the fitted
family's facts; output a self-contained HTML page written atomically.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from biovae.applications.variants.card import family_card
from biovae.reports import figures
from biovae.reports.content import Highlight, Plot, Section, Table
from biovae.reports.model_card import card_section
from biovae.reports.plots_data import POSITIONS_PER_ROW
from biovae.reports.plots_variants import scan_heatmap

#: How many substitutions the most-damaging / most-tolerated tables list.
TOP = 12


def write_variants_report(
    path: str | Path,
    cols: Mapping[str, np.ndarray],
    fitted: Any,
    mean_weights: bool = False,
    classes: Any = None,
) -> Path:
    """Write the scan report of ``fitted`` (a fitted ``family.Family``); ``mean_weights``:
    the scan used a variational decoder's posterior means rather than weight draws;
    ``classes``: the scan's :class:`~biovae.applications.variants.classes.ScanClasses`."""
    from biovae.reports.html import write_page

    return write_page(path, variants_report_page(cols, fitted, mean_weights, classes))


def scan_outputs(
    heatmap: Path | None,
    report: Path | None,
    cols: Mapping[str, np.ndarray],
    fitted: Any,
    mean_weights: bool = False,
    classes: Any = None,
) -> list[tuple[Path, str | bytes]]:
    """``(path, content)`` of a scan's heatmap (PNG bytes) and report (HTML text) where asked
    for, drawn before anything is written (``biovae variants scan``)."""
    out: list[tuple[Path, str | bytes]] = []
    if heatmap:
        out.append((heatmap, scan_heatmap(cols, fitted.alphabet)))
    if report:
        out.append((report, variants_report_page(cols, fitted, mean_weights, classes)))
    return out


def variants_report_page(
    cols: Mapping[str, np.ndarray], fitted: Any, mean_weights: bool = False, classes: Any = None
) -> str:
    """The HTML text of :func:`write_variants_report`, drawn without writing anything."""
    from biovae.reports.html import sections_page

    # the result first, the model card (a long table of facts) last, as on the model report
    parts = [scan_section(cols, fitted.alphabet), ranking_section(cols)]
    if classes is not None:
        from biovae.reports.variants_classes import classes_section

        parts.append(classes_section(classes))
    parts.append(model_section(fitted, mean_weights))
    title = f"biovae variant effects: {fitted.facts.get('focus_id', 'focus')}"
    tagline = "Label-free single-mutant scan of a sequence-family VAE (Δ ELBO, mutant − wild type)"
    return sections_page(title, tagline, parts)


def model_section(fitted: Any, mean_weights: bool = False) -> Section:
    """Model card: what the model was fitted on, how, and what its scores mean."""
    neff = fitted.facts.get("neff")
    highlights = (
        (Highlight(f"{neff:.0f}", "effective sequences (Neff)", neff >= 100),) if neff else ()
    )
    card = family_card(fitted, mean_weights)
    return card_section(card, "model", ("fact", "value"), highlights=highlights)


def scan_section(cols: Mapping[str, np.ndarray], alphabet: str) -> Section:
    positions = np.unique(np.asarray(cols["position"], dtype=int))
    heat = scan_heatmap(cols, alphabet)
    width = max(7.0, min(12.0, len(positions) / 10))  # the page's width: text stays legible
    profile = figures.render(lambda fig: _profile(fig, cols), (width, 2.6))
    ok = np.isfinite(np.asarray(cols["score"], dtype=float))
    if "wild_type" in cols and "letter" in cols:  # the wild-type letters are no substitution
        ok &= np.asarray(cols["wild_type"]) != np.asarray(cols["letter"])
    lead = (
        f"Every letter at each of {len(positions)} match positions "
        f"({int(ok.sum())} substitutions). Red cells are predicted damaging (less likely "
        "than the wild type under the model), blue ones more likely."
    )
    plots = (
        Plot(
            "scan-heatmap",
            heat,
            "Heatmap of Δ ELBO by position and letter",
            caption=(
                "Rows: the letter substituted; columns: the focus record's residues at match "
                f"positions, up to {POSITIONS_PER_ROW} per strip. A dark dot marks each "
                "position's wild-type letter (its Δ is 0 by definition); white: as likely as "
                "the wild type; grey: not scored."
            ),
        ),
        Plot(
            "scan-profile",
            profile,
            "Mean Δ ELBO per position",
            caption=f"Mean over the {len(alphabet.replace('-', '')) - 1} substitutions at each "
            "position (every letter but the wild type's): low = mutation-intolerant."
            + _intolerant_text(cols),
        ),
    )
    return Section("scan", "Single-mutant scan", lead=lead, plots=plots)


def _position_means(cols: Mapping[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Residue numbers and the mean Δ ELBO of their substitutions (wild-type letters and
    unscored cells excluded), in residue order."""
    pos = np.asarray(cols["position"], dtype=int)
    score = np.asarray(cols["score"], dtype=float)
    keep = np.isfinite(score) & (np.asarray(cols["letter"]) != np.asarray(cols["wild_type"]))
    sites = np.unique(pos[keep])
    return sites, np.array([score[keep & (pos == p)].mean() for p in sites])


def _intolerant_text(cols: Mapping[str, np.ndarray], most: int = 5) -> str:
    """The profile's takeaway: the ``most`` positions with the lowest mean Δ ELBO, named as
    mutants are (wild-type letter and residue number)."""
    sites, mean = _position_means(cols)
    if not len(sites):
        return ""
    pos, wild = np.asarray(cols["position"], dtype=int), np.asarray(cols["wild_type"])
    order = np.argsort(mean, kind="stable")[:most]
    named = ", ".join(f"{wild[pos == sites[i]][0]}{sites[i]} {mean[i]:.2f}" for i in order)
    return f" Most intolerant (mean Δ ELBO, nats): {named}."


def _profile(fig, cols: Mapping[str, np.ndarray]) -> None:
    """Mean Δ ELBO of the substitutions (wild-type letters excluded) at each position."""
    sites, mean = _position_means(cols)
    ax = fig.add_subplot()
    ax.bar(sites, mean, width=1.0, color="#4a6fa5")
    ax.set_xlabel("residue")
    ax.set_ylabel("mean Δ ELBO (nats)")
    if len(sites):
        ax.set_xlim(sites[0] - 0.5, sites[-1] + 0.5)


def ranking_section(cols: Mapping[str, np.ndarray]) -> Section:
    score = np.asarray(cols["score"], dtype=float)
    real = np.flatnonzero(np.isfinite(score) & (cols["letter"] != cols["wild_type"]))
    order = real[np.argsort(score[real], kind="stable")]
    tables = (
        _rank_table(cols, order[:TOP], f"The {TOP} most damaging substitutions"),
        _rank_table(cols, order[::-1][:TOP], f"The {TOP} best-tolerated substitutions"),
    )
    site = np.asarray(cols["independent_site"], dtype=float)
    notes = ()
    if len(real) > 2:
        from scipy.stats import spearmanr

        r = spearmanr(score[real], site[real]).statistic
        notes = (
            f"Spearman ρ between the VAE and the independent-site model: {r:.2f}. The VAE adds "
            "what the independent-site model cannot see: dependencies between positions.",
        )
    return Section("ranking", "Extremes of the scan", tables=tables, notes=notes)


def _rank_table(cols: Mapping[str, np.ndarray], idx: np.ndarray, caption: str) -> Table:
    rows = tuple(
        (
            f"{cols['wild_type'][i]}{int(cols['position'][i])}{cols['letter'][i]}",
            f"{cols['score'][i]:.2f} ± {cols['se'][i]:.2f}",
            f"{cols['independent_site'][i]:.2f}",
        )
        for i in idx
    )
    return Table(("mutant", "Δ ELBO ± SE", "independent-site Δ"), rows, caption)
