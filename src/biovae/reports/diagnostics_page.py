"""The diagnostics page: the numbers of ``biovae diagnose`` / ``biovae sweep`` as one HTML file.

It renders whatever parts the results dict holds (as produced by :func:`biovae.diagnose.diagnose`,
:func:`biovae.diagnose.sweep` and :func:`biovae.diagnose.fidelity_comparison`): latent usage and
collapse, rate and distortion (one model or a β sweep), the marginal likelihood and inference
gaps, and the generative fidelity of a VAE against a plain autoencoder and PCA. Like the model
report it is self-contained and written atomically.
"""

from __future__ import annotations

import math
from html import escape
from pathlib import Path

from biovae.diagnostics.collapse import information_note
from biovae.diagnostics.predictive import chance_share
from biovae.reports import plots
from biovae.reports import plots_diagnostics as pd
from biovae.reports.content import Highlight, Plot, Section, Table
from biovae.reports.html import facts_rows, render_document

#: Fidelity metrics: (label, how to read it, score where lower = closer to the data).
FIDELITY = {
    "site_frequency_r": ("site-frequency r", "higher is closer", lambda v: -v),
    "pair_covariance_r": ("pair-covariance r", "higher is closer", lambda v: -v),
    "classifier_auc": ("classifier AUC", "0.5 = indistinguishable", lambda v: abs(v - 0.5)),
    "mmd2": ("MMD²", "lower is closer", lambda v: v),
}


def write_diagnostics_report(path: str | Path, results: dict, title: str = "Diagnostics") -> Path:
    """Write the diagnostics in ``results`` as a self-contained HTML page at ``path``."""
    from biovae.data.writers import atomic_open

    page = diagnostics_page(results, title)
    path = Path(path)
    with atomic_open(path, "w") as fh:
        fh.write(page)
    return path


def diagnostics_page(
    results: dict, title: str = "Diagnostics", files: tuple[tuple[str, str], ...] = ()
) -> str:
    """The self-contained HTML page of the diagnostics in ``results``; ``files``: (what, full
    path) rows of its summary, the files a ``title`` names without their folders."""
    parts = [
        s
        for s in (
            collapse_section(results),
            rate_distortion_section(results),
            likelihood_section(results),
            predictive_section(results),
            fidelity_section(results),
        )
        if s is not None
    ]
    return render_document(title, _tagline(results), _overview(results, parts, files), parts)


def _tagline(results: dict) -> str:
    model = results.get("model", {})
    bits = [f"{results.get('records', model.get('records', '?'))} records"]
    if "likelihood" in model:
        bits.append(f"{model['likelihood']} likelihood, {model['n_latent']}-D latent space")
    return "Diagnostics · " + " · ".join(bits)


def _overview(results: dict, parts: list[Section], files: tuple = ()) -> str:
    facts = [*files]
    facts += [(k.replace("_", " "), str(v)) for k, v in results.get("model", {}).items()]
    facts += [
        (k.replace("_", " "), str(results[k]))
        for k in ("records", "records_given", "subsample", "held_out")
        if k in results
    ]
    rows = facts_rows(tuple(facts))
    toc = "".join(f'<li><a href="#{escape(s.id)}">{escape(s.title)}</a></li>' for s in parts)
    return (
        '<section class="overview" id="summary">'
        f'<div class="card summary"><h2>What was measured</h2><table>{rows}</table>'
        '<p class="guide">All values are per record in nats (natural-log units), on the records '
        "given; a higher ELBO or log-likelihood is better.</p></div>"
        f'<nav class="card toc" aria-label="Contents"><h2>Contents</h2><ol>{toc}</ol></nav>'
        "</section>"
    )


def collapse_section(results: dict) -> Section | None:
    """KL per dimension, activity, mutual information and the collapse verdict."""
    col = results.get("collapse")
    if col is None:
        return None
    import numpy as np

    png = plots.latent_usage(np.asarray(col["unit_variance"]), 0.01, np.asarray(col["kl_per_dim"]))
    mi = col.get("mutual_information", {})
    notes = tuple(f"Remedy: {r}." for r in col.get("remedies", []))
    if "mutual_information" in mi:
        notes += (information_note(mi),)
    return Section(
        "collapse",
        "Latent usage and posterior collapse",
        lead=(
            "A latent dimension is active when the variance over records of its posterior mean "
            "E_q[z_k] exceeds 0.01; an inactive one has collapsed to the prior and carries no "
            "information about the record."
        ),
        verdict=col["verdict"],
        plots=(
            Plot(
                "kl-per-dimension",
                png,
                "KL and activity per latent dimension",
                caption=(
                    "Left: each dimension's KL to the prior (nats per record), what it costs to "
                    "carry; right: the variance over records of its posterior mean (log axis). "
                    "Grey bars, below the dashed threshold, are collapsed dimensions."
                ),
            ),
        ),
        notes=notes,
        highlights=(
            Highlight(
                f"{col['n_active']} / {col['n_latent']}",
                "active latent dimensions",
                col["n_active"] > 0,
            ),
        ),
    )


def rate_distortion_section(results: dict) -> Section | None:
    """One model's rate and distortion, and the curve over β when a sweep was run."""
    one, sweep = results.get("rate_distortion"), results.get("sweep")
    if one is None and not sweep:
        return None
    tables, plot_list = [], []
    if one is not None:
        tables.append(
            Table(
                ("", "rate", "distortion", "ELBO"),
                (
                    (
                        "this model (mean ± s.e.)",
                        *(f"{one[k]:.3f} ± {one[k + '_se']:.3f}" for k in ("rate", "distortion")),
                        f"{one['elbo']:.3f} ± {one['elbo_se']:.3f}",
                    ),
                ),
            )
        )
    if sweep:
        plot_list.append(
            Plot(
                "rate-distortion",
                pd.rate_distortion_curve(sweep),
                "Rate–distortion curve over β",
                caption=(
                    "Each point is one model trained with that β. Moving right buys a lower "
                    "distortion with more nats of code; the dashed line joins models as good "
                    "as the best ELBO."
                ),
            )
        )
        tables.append(_sweep_table(sweep))
    return Section(
        "rate-distortion",
        "Rate and distortion",
        lead=(
            "The ELBO is −(distortion + rate): rate = KL(q(z|x) ‖ p(z)) is what the code costs, "
            "distortion = −E_q log p(x|z) is how badly the decoder rebuilds the record from it. "
            "β trades one for the other."
        ),
        plots=tuple(plot_list),
        tables=tuple(tables),
    )


def _sweep_table(sweep: list[dict]) -> Table:
    best = max(sweep, key=lambda p: p["elbo"])
    rows = tuple(
        (
            f"β = {p['beta']:g}" + (" (best ELBO)" if p is best else ""),
            f"{p['rate']:.3f}",
            f"{p['distortion']:.3f}",
            f"{p['elbo']:.3f}",
            str(p.get("active_units", "")),
        )
        for p in sweep
    )
    return Table(
        ("model", "rate", "distortion", "ELBO", "active units"),
        rows,
        caption="Held-out records, nats per record",
    )


def likelihood_section(results: dict) -> Section | None:
    """IWAE log p(x) and the amortization / approximation gaps."""
    ll, gap = results.get("log_likelihood"), results.get("amortization")
    if ll is None and gap is None:
        return None
    highlights, tables, plot_list = [], [], []
    if ll is not None:
        highlights.append(
            Highlight(f"{ll['mean']:.2f}", f"log p(x), IWAE-{ll['k']} (nats per record)")
        )
        tables.append(
            Table(
                ("estimate", "mean", "s.e. over records", "Monte-Carlo s.e.", "records"),
                (
                    (
                        f"IWAE-{ll['k']} log p(x)",
                        f"{ll['mean']:.3f}",
                        f"{ll['se_records']:.3f}",
                        "— (K = 1)"
                        if ll["se_monte_carlo"] is None
                        else f"{ll['se_monte_carlo']:.4f} (at least)",
                        str(ll["n"]),
                    ),
                ),
            )
        )
    if gap is not None:
        highlights.append(
            Highlight(f"{gap['amortization_gap']:.3f}", "amortization gap (nats per record)")
        )
        plot_list.append(
            Plot(
                "inference-gaps",
                pd.inference_gaps(gap),
                "Amortization and approximation gaps",
                caption=(
                    "Mean gap per record in nats ± its standard error over the records refined. "
                    "A gap near 0 costs nothing; the larger of the two says which part of "
                    "inference (the shared encoder, or the Gaussian form of q) loses more."
                ),
            )
        )
        tables.append(_gap_table(gap))
    return Section(
        "likelihood",
        "Marginal likelihood and inference gaps",
        lead=(
            "The encoder's ELBO falls short of log p(x) for two reasons. The amortization gap "
            "(refined − amortized ELBO) is what one shared encoder loses against fitting q(z|x) "
            "to each record by gradient ascent; the approximation gap (log p(x) − refined ELBO) "
            "is what the Gaussian family of q loses against the true posterior."
        ),
        plots=tuple(plot_list),
        tables=tuple(tables),
        highlights=tuple(highlights),
    )


def _gap_table(gap: dict) -> Table:
    names = (
        ("amortized ELBO", "amortized_elbo"),
        ("refined ELBO", "refined_elbo"),
        (f"log p(x) (IWAE-{gap['iwae_k']})", "log_px"),
        ("amortization gap", "amortization_gap"),
        ("approximation gap", "approximation_gap"),
    )
    return Table(
        ("quantity", "mean", "s.e."),
        tuple((label, f"{gap[k]:.3f}", _se_text(gap[k + "_se"])) for label, k in names),
        caption=f"On the same {gap['n']} record{'' if gap['n'] == 1 else 's'}",
    )


def predictive_section(results: dict) -> Section | None:
    """Posterior predictive checks: observed per-feature statistics against replicates."""
    ppc = results.get("predictive")
    if not ppc:
        skipped = results.get("predictive_skipped")  # say why, rather than leave it out
        return Section("predictive", "Posterior predictive checks", skipped) if skipped else None
    stats = ppc["statistics"]
    rows = tuple(
        (
            name.replace("_", " "),
            _share_text(v["share_outside"]),
            _share_text(v["share_above_all"]),
            _share_text(v["share_below_all"]),
            _share_text(v["median_relative_difference"], "+"),
        )
        for name, v in stats.items()
    )
    return Section(
        "predictive",
        "Posterior predictive checks",
        lead=(
            f"Each record redrawn {ppc['n_replicates']} times from its posterior predictive "
            "distribution (z from q(z|x), data from p(x|z)); per feature, the observed "
            "statistic against the replicated data sets. By chance alone about "
            f"{chance_share(ppc['n_replicates']):.0%} of features fall outside the replicates' "
            f"central 95 % ({ppc['n_replicates']} replicates span less than a new replicate's "
            "95 % range); many more mean the likelihood cannot produce the data. On training "
            "records the check is optimistic: use held-out records."
        ),
        verdict=ppc["verdict"],
        plots=(
            Plot(
                "predictive-check",
                pd.predictive_check(stats),
                "Observed vs replicated",
                caption=(
                    "One point per feature: the statistic of the observed records against its "
                    "mean over the replicated data sets; orange points lie outside the "
                    "replicates' central 95 %. Points above the diagonal are larger in the data "
                    "than the model produces, points below it smaller."
                ),
            ),
        ),
        tables=(
            Table(
                (
                    "statistic",
                    "features outside 95 %",
                    "above every replicate",
                    "below every",
                    "median observed / replicated − 1",
                ),
                rows,
            ),
        ),
    )


def fidelity_section(results: dict) -> Section | None:
    """Prior samples of VAE, autoencoder and PCA against held-out data."""
    fid = results.get("fidelity")
    if not fid:
        return None
    metrics = [m for m in next(iter(fid.values())) if m in FIDELITY]
    undefined = any(not _defined(vals[m]) for vals in fid.values() for m in metrics)
    table = Table(
        ("model", *(f"{FIDELITY[m][0]} ({FIDELITY[m][1]})" for m in metrics)),
        tuple(
            (name, *(f"{vals[m]:.4f}" if _defined(vals[m]) else "—" for m in metrics))
            for name, vals in fid.items()
        ),
        caption=(
            "— : undefined (null in the JSON): a correlation needs both sides to vary, e.g. "
            "held-out records whose pair covariances are all 0 (at most one variable position)"
            if undefined
            else ""
        ),
    )
    return Section(
        "fidelity",
        "Generative fidelity: VAE vs autoencoder vs PCA",
        lead=(
            "Each model decodes draws from N(0, I) in its latent space, compared with "
            f"{results.get('fidelity_records', 'the')} held-out records (as many samples). "
            "A plain autoencoder has no reason to place its codes near N(0, I), so its "
            "'samples' are usually far from real data; a VAE's prior is part of its training."
        ),
        verdict=fidelity_verdict(fid, metrics),
        tables=(table,),
    )


def fidelity_verdict(fid: dict[str, dict[str, float]], metrics: list[str]) -> str:
    """Which model's prior samples are closest to the data, metric by metric."""
    if "VAE" not in fid or "autoencoder" not in fid:
        return ""
    vae, ae = fid["VAE"], fid["autoencoder"]
    metrics = [m for m in metrics if _defined(vae[m]) and _defined(ae[m])]  # both measured
    if not metrics:
        return "No metric is defined for both the VAE and the autoencoder: no comparison."
    wins = [m for m in metrics if FIDELITY[m][2](vae[m]) < FIDELITY[m][2](ae[m])]
    labels = ", ".join(FIDELITY[m][0] for m in wins) or "none"
    return (
        f"The VAE's samples are closer to the data than the autoencoder's on "
        f"{len(wins)} of {len(metrics)} metrics ({labels})."
    )


def _defined(value: float | None) -> bool:
    """Whether a metric was measured (not None, as in the JSON, nor NaN, as in memory)."""
    return value is not None and math.isfinite(value)


def _se_text(se: float | None) -> str:
    """A standard error, or a dash where it is undefined (one record: no spread to measure)."""
    return "—" if se is None or not math.isfinite(se) else f"{se:.3f}"


def _share_text(share: float | None, sign: str = "") -> str:
    """A share as a percentage, or a dash where it is undefined (null in the JSON)."""
    return "—" if share is None or not math.isfinite(share) else f"{share:{sign}.1%}"
