"""Plots of the diagnostics page: the rate–distortion curve and the inference gaps.

Every function returns a PNG image as ``bytes``; matplotlib is imported only when one runs.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from biovae.reports import figures as fg


def rate_distortion_curve(points: Sequence[dict]) -> bytes:
    """Held-out distortion against rate, one point per β, with the line of the best ELBO.

    ``points`` are dicts with ``beta``, ``rate`` and ``distortion`` (nats per record). ELBO =
    −(distortion + rate), so a line of slope −1 joins models of equal ELBO. No error bars: the
    models are measured on the same records, so the spread of records says nothing about the
    differences between them.
    """
    pts = sorted(points, key=lambda p: p["rate"])
    rate = np.array([p["rate"] for p in pts])
    dist = np.array([p["distortion"] for p in pts])
    best = max(pts, key=lambda p: -(p["rate"] + p["distortion"]))

    def draw(fig) -> None:
        ax = fig.subplots()
        ax.plot(rate, dist, "o-", color=fg.TRAIN, lw=1.5, ms=7, zorder=3)
        for p in pts:
            ax.annotate(
                f"β={p['beta']:g}",
                (p["rate"], p["distortion"]),
                textcoords="offset points",
                xytext=(7, 5),
                fontsize=9.5,
                color=fg.INK,
            )
        _iso_elbo(ax, best["rate"] + best["distortion"])
        ax.set(
            title="Rate–distortion (held-out records)",
            xlabel="rate = KL(q(z|x) ‖ p(z)), nats per record",
            ylabel="distortion = −E_q log p(x|z), nats",
        )
        ax.legend(loc="upper right")

    return fg.render(draw, (6.6, 4.4))


def _iso_elbo(ax, level: float) -> None:
    """The line rate + distortion = ``level`` (the best ELBO), clipped to the data's view."""
    xlim, ylim = ax.get_xlim(), ax.get_ylim()
    r = np.array(xlim)
    ax.plot(r, level - r, color=fg.MUTED, ls="--", lw=1.1, label="equal ELBO as the best β")
    ax.set_xlim(xlim)
    ax.set_ylim(ylim)


def inference_gaps(gap: dict) -> bytes:
    """The amortization and approximation gaps with their (paired) standard errors; an
    undefined error (NaN or None: one record) is drawn as no error bar."""
    rows = [
        ("amortization gap\n(refined − amortized ELBO)", "amortization_gap"),
        ("approximation gap\n(log p(x) − refined ELBO)", "approximation_gap"),
    ]
    values = np.array([gap[k] for _, k in rows], dtype=float)
    errors = np.array([np.nan if gap[k + "_se"] is None else gap[k + "_se"] for _, k in rows])
    known = np.isfinite(errors)
    bars = np.where(known, errors, 0.0)

    def draw(fig) -> None:
        ax = fig.subplots()
        y = np.arange(len(rows))[::-1]
        ax.barh(y, values, xerr=bars, color=[fg.TRAIN, fg.VALIDATION], capsize=4, height=0.55)
        ax.axvline(0, color=fg.INK, lw=1)
        ax.set_yticks(y, [label for label, _ in rows])
        for yi, v, e, k in zip(y, values, bars, known):
            ax.annotate(
                f"{v:.3g} ± {e:.2g}" if k else f"{v:.3g} (no s.e.)",
                (max(v + e, 0), yi),
                textcoords="offset points",
                xytext=(6, 0),
                va="center",
                fontsize=9.5,
            )
        hi = float(np.max(np.maximum(values + bars, 0)))
        lo = float(np.min(np.minimum(values - bars, 0)))
        ax.set_xlim(lo - 0.05 * (hi - lo or 1), hi + 0.45 * (hi - lo or 1))
        ax.set(
            title=f"Inference gaps on {gap['n']} record{'' if gap['n'] == 1 else 's'}",
            xlabel="nats per record",
        )
        ax.grid(axis="y", visible=False)

    return fg.render(draw, (6.6, 2.8))


def predictive_check(stats: dict) -> bytes:
    """One panel per statistic: observed against replicated mean per feature, the features
    outside the replicates' central 95 % in orange, the diagonal for reference."""
    names = list(stats)

    def draw(fig) -> None:
        axes = fig.subplots(1, len(names), squeeze=False)[0]
        for ax, name in zip(axes, names):
            rep = np.asarray(stats[name]["replicated_mean"], dtype=float)
            obs = np.asarray(stats[name]["observed"], dtype=float)
            out = np.asarray(stats[name]["outside"], dtype=bool)
            kept = np.isfinite(rep) & np.isfinite(obs)  # features too rarely observed: none
            rep, obs, out = rep[kept], obs[kept], out[kept]
            if not len(rep):
                ax.set_axis_off()
                continue
            ax.scatter(rep[~out], obs[~out], s=6, color=fg.MUTED, lw=0, label="inside")
            ax.scatter(rep[out], obs[out], s=8, color=fg.VALIDATION, lw=0, label="outside 95 %")
            lo, hi = float(min(rep.min(), obs.min())), float(max(rep.max(), obs.max()))
            ax.plot([lo, hi], [lo, hi], color=fg.INK, lw=0.8)
            if name != "zero_fraction" and lo > 0 and hi >= 10 * lo:  # a decade or more
                _log_axes(ax, lo, hi)
            ax.set(title=name.replace("_", " "), xlabel="replicated (mean)", ylabel="observed")
        if axes[0].get_legend_handles_labels()[0]:
            axes[0].legend(loc="upper left")

    return fg.render(draw, (4.2 * len(names), 3.8))


def _log_axes(ax, lo: float, hi: float) -> None:
    """Log axes with labels that do not run into each other: at 1, 2 and 5 × 10ⁿ over less
    than two decades, at the decades over more. Minor ticks stay unlabelled: matplotlib labels
    them (2×10¹, 3×10¹, 4×10¹, 6×10¹) whenever fewer than two decade ticks are in view, and on
    a panel's width the labels overlap."""
    from matplotlib.ticker import LogFormatterSciNotation, LogLocator, NullFormatter

    ax.set(xscale="log", yscale="log")
    subs = (1.0, 2.0, 5.0) if hi < 100 * lo else (1.0,)
    for axis in (ax.xaxis, ax.yaxis):
        axis.set_major_locator(LogLocator(subs=subs))
        # thresholds of infinity: label every major tick the locator placed, not only decades
        axis.set_major_formatter(
            LogFormatterSciNotation(labelOnlyBase=False, minor_thresholds=(np.inf, np.inf))
        )
        axis.set_minor_formatter(NullFormatter())
