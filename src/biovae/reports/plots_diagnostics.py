"""Plots of the diagnostics page: the rate–distortion curve and the inference gaps.

Every function returns a PNG image as ``bytes``; matplotlib is imported only when one runs.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from biovae.reports import figures as fg


def rate_distortion_curve(points: Sequence[dict]) -> bytes:
    """Held-out distortion against rate, one point per β, with lines of equal ELBO.

    ``points`` are dicts with ``beta``, ``rate``, ``distortion`` (and optional ``*_se``).
    ELBO = −(distortion + rate), so lines of slope −1 join models of equal ELBO.
    """
    pts = sorted(points, key=lambda p: p["rate"])
    rate = np.array([p["rate"] for p in pts])
    dist = np.array([p["distortion"] for p in pts])
    best = max(pts, key=lambda p: -(p["rate"] + p["distortion"]))

    def draw(fig) -> None:
        ax = fig.subplots()
        ax.plot(rate, dist, color=fg.TRAIN, lw=1.5, zorder=2)
        ax.errorbar(
            rate,
            dist,
            xerr=[p.get("rate_se", 0.0) for p in pts],
            yerr=[p.get("distortion_se", 0.0) for p in pts],
            fmt="o",
            color=fg.TRAIN,
            ms=6,
            capsize=3,
            zorder=3,
        )
        for p in pts:
            ax.annotate(
                f"β={p['beta']:g}",
                (p["rate"], p["distortion"]),
                textcoords="offset points",
                xytext=(7, 5),
                fontsize=9.5,
                color=fg.INK,
            )
        _iso_elbo(ax, rate, dist, best["rate"] + best["distortion"])
        ax.set(
            title="Rate–distortion (held-out records)",
            xlabel="rate = KL(q(z|x) ‖ p(z)), nats per record",
            ylabel="distortion = −E_q log p(x|z), nats",
        )
        ax.legend(loc="upper right")

    return fg.render(draw, (6.6, 4.4))


def _iso_elbo(ax, rate: np.ndarray, dist: np.ndarray, level: float) -> None:
    """The line rate + distortion = ``level`` (the best ELBO) across the plotted range."""
    pad = 0.05 * (rate.max() - rate.min() or 1.0)
    r = np.array([rate.min() - pad, rate.max() + pad])
    lo, hi = ax.get_ylim()
    ax.plot(r, level - r, color=fg.MUTED, ls="--", lw=1.1, label="equal ELBO as the best β")
    ax.set_ylim(min(lo, dist.min() - pad), hi)


def inference_gaps(gap: dict) -> bytes:
    """Amortized ELBO ≤ refined ELBO ≤ log p(x), with standard errors, on the same records."""
    rows = [
        ("amortized ELBO (encoder)", gap["amortized_elbo"], gap["amortized_elbo_se"]),
        ("refined ELBO (per-record q)", gap["refined_elbo"], gap["refined_elbo_se"]),
        (f"log p(x), IWAE-{gap['iwae_k']}", gap["log_px"], gap["log_px_se"]),
    ]
    y = np.arange(len(rows))[::-1]

    def draw(fig) -> None:
        ax = fig.subplots()
        values = np.array([r[1] for r in rows])
        ax.errorbar(
            values,
            y,
            xerr=[r[2] for r in rows],
            fmt="o",
            color=fg.TRAIN,
            ms=8,
            capsize=4,
        )
        ax.set_yticks(y, [r[0] for r in rows])
        span = float(values.max() - values.min()) or 1.0
        ax.set_xlim(values.min() - 0.35 * span, values.max() + 0.35 * span)
        ax.set(
            title=f"Inference gaps on {gap['n']} held-out records",
            xlabel="nats per record (higher is better)",
        )
        ax.grid(axis="y", visible=False)
        fg.note(
            ax,
            f"amortization gap {gap['amortization_gap']:.3g} ± {gap['amortization_gap_se']:.2g}\n"
            f"approximation gap {gap['approximation_gap']:.3g} "
            f"± {gap['approximation_gap_se']:.2g}",
        )

    return fg.render(draw, (6.6, 3.0))
