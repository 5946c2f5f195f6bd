"""Plots comparing the model with data: reconstructions and samples from the prior.

Every function returns a PNG image as ``bytes``. Tables and counts are drawn on the scale
chosen by :func:`biovae.reports.analysis.display_scale` (log(1 + x) for counts, log10(x + ε)
for relative abundances); sequences as letter
probabilities and frequencies per position.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from biovae.reports import figures as fg
from biovae.reports.analysis import feature_moments, log_pearson, pearson
from biovae.reports.content import number

#: Sequence positions per row of the per-position probability plot.
POSITIONS_PER_ROW = 90
#: Positions drawn at most (8 rows): a 40 kb genome drew 445 rows, a PNG 85,000 pixels tall.
MAX_POSITIONS = 8 * POSITIONS_PER_ROW
#: Heatmap colour of a missing entry (NaN: a missing genotype).
MISSING_GREY = "#c8ced6"


def reconstruction_heatmap(
    observed: np.ndarray,
    reconstructed: np.ndarray,
    features: Sequence[str],
    ids: Sequence[str],
    scale_label: str,
) -> bytes:
    """Records × features heatmaps of the data and of its reconstruction on one colour scale;
    missing entries (NaN, genotypes) are grey and left out of the scale."""
    both = np.concatenate([observed.ravel(), reconstructed.ravel()])
    both = both[~np.isnan(both)]
    vmax = float(np.percentile(both, 99.5)) if both.size else 1.0
    vmin = float(both.min()) if both.size else 0.0
    cmap = fg.colormap("magma").with_extremes(bad=MISSING_GREY)
    n_rec, n_feat = observed.shape
    names = fg.shorten_apart(features, 30, limit=60)
    rows = fg.shorten_apart(ids, 14)

    def draw(fig) -> None:
        axes = fig.subplots(1, 2, sharey=True)
        for ax, values, title in zip(
            axes, (observed, reconstructed), ("Observed", "Reconstructed E[x | z = E q(z|x)]")
        ):
            image = ax.imshow(
                values,
                aspect="auto",
                vmin=vmin,
                vmax=vmax or None,
                cmap=cmap,
                interpolation="nearest",
            )
            ax.set_title(title)
            ax.set_xticks(np.arange(n_feat), labels=names, rotation=90, fontsize=7)
            ax.set_xlabel("feature")
            ax.grid(False)
        axes[0].set_yticks(np.arange(n_rec), labels=rows, fontsize=8)
        axes[0].set_ylabel("record")
        fig.colorbar(image, ax=list(axes), shrink=0.9, pad=0.01, label=scale_label)

    return fg.render(draw, (12.0, 2.15 + 0.26 * n_rec + 0.06 * max(len(f) for f in names)))


def observed_vs_reconstructed(
    observed: np.ndarray, reconstructed: np.ndarray, scale_label: str
) -> bytes:
    """Density of (observed, reconstructed) pairs over every observed entry, with Pearson r."""
    obs, rec = observed.ravel(), reconstructed.ravel()
    known = ~np.isnan(obs)  # missing genotypes have nothing to compare with
    obs, rec = obs[known], rec[known]

    def draw(fig) -> None:
        ax = fig.subplots()
        hb = ax.hexbin(obs, rec, gridsize=60, bins="log", cmap="Blues", mincnt=1, lw=0)
        lo, hi = float(min(obs.min(), rec.min())), float(max(obs.max(), rec.max()))
        ax.plot([lo, hi], [lo, hi], color=fg.VALIDATION, lw=1.2, ls="--", label="y = x")
        ax.set(
            title="Every entry: observed vs reconstructed",
            xlabel=f"observed, {scale_label}",
            ylabel=f"reconstructed, {scale_label}",
        )
        fg.note(ax, f"Pearson r = {number(pearson(obs, rec), '.3f')}")
        ax.legend(loc="lower right")
        fig.colorbar(hb, ax=ax, label="entries (log scale)", shrink=0.85)

    return fg.render(draw, (5.6, 4.6))


def feature_means(
    observed: np.ndarray, reconstructed: np.ndarray, log: bool, floor: float | None = None
) -> bytes:
    """Per-feature mean of the data against the mean of the reconstructions (data scale), both
    over the observed entries (missing genotypes, NaN, left out of both); on log axes, means
    below ``floor`` (relative abundances: the pseudocount) are drawn at it."""
    obs_mean = feature_moments(observed)[0]
    rec_mean = feature_moments(np.where(np.isnan(observed), np.nan, reconstructed))[0]

    def draw(fig) -> None:
        ax = fig.subplots()
        _identity_scatter(ax, obs_mean, rec_mean, log, floor)
        ax.set(
            title="Each feature: mean observed vs reconstructed",
            xlabel="observed mean" + _floor_text(floor),
            ylabel="mean of reconstructions" + _floor_text(floor),
        )
        suffix = " (log scale)" if log else ""
        r = _corr(obs_mean, rec_mean, log, floor)
        fg.note(ax, f"Pearson r = {number(r, '.3f')}{suffix}")

    return fg.render(draw, (5.6, 4.6))


def moments_scatter(
    data_stats: tuple[np.ndarray, np.ndarray],
    sample_stats: tuple[np.ndarray, np.ndarray],
    log: bool,
    floor: float | None = None,
) -> bytes:
    """Per-feature mean and variance of samples from the prior against the data; on log axes,
    means below ``floor`` (relative abundances: the pseudocount) are drawn at it, variances
    below its square at that."""

    def draw(fig) -> None:
        axes = fig.subplots(1, 2)
        floors = (floor, floor**2 if floor else None)
        for ax, d, s, what, f in zip(axes, data_stats, sample_stats, ("mean", "variance"), floors):
            _identity_scatter(ax, d, s, log, f)
            ax.set(
                title=f"Feature {what}",
                xlabel=f"data {what}{_floor_text(f)}",
                ylabel=f"sample {what}{_floor_text(f)}",
            )
            r = _corr(d, s, log, f)
            fg.note(ax, f"r = {number(r, '.3f')}" + (" (log scale)" if log else ""))

    return fg.render(draw, (10.4, 4.4))


def _floor_text(floor: float | None) -> str:
    """An axis label's note of the floor values are drawn at, if any."""
    return f" (log scale, floor {floor:.0e})" if floor else ""


def _corr(a: np.ndarray, b: np.ndarray, log: bool, floor: float | None = None) -> float:
    return log_pearson(a, b, floor or 1e-6) if log else pearson(a, b)


def _identity_scatter(
    ax, x: np.ndarray, y: np.ndarray, log: bool, floor: float | None = None
) -> None:
    """Points (x, y) and the line y = x; on log axes values below ``floor`` (1e-4 unless given)
    are drawn at it."""
    known = np.isfinite(x) & np.isfinite(y)  # a feature with no observed entry has no point
    x, y = x[known], y[known]
    if log:
        lo = floor or 1e-4
        x, y = np.clip(x, lo, None), np.clip(y, lo, None)
        ax.set_xscale("log")
        ax.set_yscale("log")
        for axis in (ax.xaxis, ax.yaxis):
            axis.set_minor_locator(fg.null_locator())  # minor log ticks are slow and noisy
    ax.scatter(x, y, s=10, color=fg.TRAIN, alpha=0.55, lw=0)
    lo, hi = float(min(x.min(), y.min())), float(max(x.max(), y.max()))
    ax.plot([lo, hi], [lo, hi], color=fg.VALIDATION, lw=1.2, ls="--", label="y = x")
    ax.legend(loc="lower right")


def sequence_probabilities(
    probs_la: np.ndarray,
    observed_l: np.ndarray,
    alphabet: str,
    positions: Sequence[str],
    record: str,
    letters_only: bool = False,
) -> bytes:
    """Letter probabilities per position of one record; the record's own letters are ringed.
    Only the first :data:`MAX_POSITIONS` positions of a longer record are drawn.
    ``letters_only``: ``probs_la`` is one-hot, the one letter reconstructed at each position
    (a PCA has no letter probabilities)."""
    what = "letters" if letters_only else "letter probabilities"
    label = "reconstructed letter" if letters_only else "probability"
    length, n_letters = probs_la.shape
    shown = min(length, MAX_POSITIONS)
    probs_la, observed_l = probs_la[:shown], observed_l[:shown]
    starts = list(range(0, shown, POSITIONS_PER_ROW))
    part = f", positions {positions[0]}–{positions[shown - 1]} of {length:,}" * (shown < length)

    def draw(fig) -> None:
        axes = fig.subplots(len(starts), 1, squeeze=False)[:, 0]
        for ax, start in zip(axes, starts):
            image = _probability_row(ax, probs_la, observed_l, start, alphabet, positions)
        axes[0].set_title(
            f"Record {fg.shorten(record, 40)}: reconstructed {what} "
            f"(rings: the record's letters){part}"
        )
        axes[-1].set_xlabel("position")
        fig.colorbar(image, ax=list(axes), shrink=0.8, pad=0.01, label=label)

    row_height = 0.9 + 0.17 * n_letters
    return fg.render(draw, (12.0, 0.6 + row_height * len(starts)))


def _probability_row(ax, probs_la, observed_l, start: int, alphabet: str, positions):
    """One row of the per-position plot: positions start .. start + POSITIONS_PER_ROW."""
    length, n_letters = probs_la.shape
    stop = min(start + POSITIONS_PER_ROW, length)
    cols = np.arange(start, stop)
    image = ax.imshow(
        probs_la[cols].T,
        aspect="auto",
        vmin=0,
        vmax=1,
        cmap="Blues",
        interpolation="nearest",
        extent=(start - 0.5, stop - 0.5, n_letters - 0.5, -0.5),
    )
    ax.scatter(cols, observed_l[cols], s=14, facecolors="none", edgecolors=fg.VALIDATION, lw=1.1)
    ax.set_yticks(np.arange(n_letters), labels=list(alphabet), fontsize=7 if n_letters > 8 else 9)
    ticks = [c for c in cols if (c - start) % 10 == 0]
    ax.set_xticks(ticks, labels=[positions[c] for c in ticks], fontsize=8)
    ax.set_xlim(start - 0.5, start + min(POSITIONS_PER_ROW, length) - 0.5)
    ax.grid(False)
    return image


def site_frequencies(
    data_la: np.ndarray,
    sample_la: np.ndarray,
    data_entropy: np.ndarray,
    sample_entropy: np.ndarray,
    positions: Sequence[str],
) -> bytes:
    """Per-site letter frequencies of samples vs data, and per-site entropy along the sequence."""

    def draw(fig) -> None:
        left, right = fig.subplots(1, 2, width_ratios=(1, 1.9))
        _identity_scatter(left, data_la.ravel(), sample_la.ravel(), log=False)
        left.set(title="Letter frequency at each site", xlabel="data", ylabel="samples")
        fg.note(left, f"r = {number(pearson(data_la, sample_la), '.3f')}")
        x = np.arange(len(positions))
        right.plot(x, data_entropy, color=fg.INK, lw=1.4, label="data")
        right.plot(x, sample_entropy, color=fg.TRAIN, lw=1.4, alpha=0.85, label="samples")
        step = max(1, len(x) // 12)
        right.set_xticks(x[::step], labels=[positions[i] for i in x[::step]])
        right.set(
            title="Variability along the sequence (entropy per site)",
            xlabel="position",
            ylabel="entropy (nats)",
        )
        right.legend(loc="best")

    return fg.render(draw, (12.0, 4.2))
