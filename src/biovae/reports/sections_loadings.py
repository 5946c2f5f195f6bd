"""Report section of a linearly decoded VAE (LDVAE): which features each latent factor moves."""

from __future__ import annotations

from typing import Any

import numpy as np

from biovae.reports import figures as fg
from biovae.reports.content import Plot, Section, Table

#: Features per factor and direction in the table; the heat map shows the top positive ones.
PER_FACTOR = 5
#: Factors drawn at most (a 30-D latent space would make an unreadable map).
MAX_FACTORS = 12


def loadings_section(est: Any) -> Section | None:
    """Top features of each factor and a heat map of their loadings; None unless the model has
    a linear decoder with one raw parameter per feature."""
    from biovae.applications.loadings import loadings, top_features
    from biovae.errors import ConfigError

    cfg = getattr(est, "config_", None)
    if cfg is None or cfg.model.network.decoder != "linear" or not hasattr(est, "model_"):
        return None
    try:  # refused for a decoder output that is not one value per feature (or letter)
        table = loadings(est).iloc[:, :MAX_FACTORS]
    except ConfigError:
        return None
    top = top_features(table, PER_FACTOR)
    rows = tuple(
        (
            factor,
            ", ".join(f"{g} ({table.loc[g, factor]:+.2f})" for g in up),
            ", ".join(f"{g} ({table.loc[g, factor]:+.2f})" for g in down),
        )
        for factor, (up, down) in top.items()
    )
    # a factor without a positive loading (uncentred, few features) shows its negative ones
    features = list(dict.fromkeys(g for up, down in top.values() for g in up or down))
    plot = Plot(
        "loadings-heatmap",
        heatmap(table.loc[features].to_numpy(), features, list(table.columns)),
        "Heat map of factor loadings",
        f"The {PER_FACTOR} features with the largest loading on each factor (rows), and their "
        "loadings on every factor (columns).",
    )
    lead = (
        "The decoder is linear in z (LDVAE), so each latent dimension is a factor with one "
        "loading per feature: its effect on the feature's raw parameter (for counts, the log of "
        "its share of the record, centred over features; for sequences, each letter's logit at a "
        "position, centred over the letters) per unit of z. Factors are identified "
        "only up to a rotation of z (the prior is isotropic): read them as a basis of the map, "
        "not as unique programmes. `biovae loadings` writes the whole table."
    )
    listing = Table(("factor", "highest", "lowest"), rows, "Features with the largest loadings")
    return Section("loadings", "Factor loadings", lead, plots=(plot,), tables=(listing,))


def heatmap(values: np.ndarray, features: list[str], factors: list[str]) -> bytes:
    """Features × factors, a diverging colour scale centred at 0."""
    limit = float(np.abs(values).max()) or 1.0

    def draw(fig) -> None:
        ax = fig.subplots()
        image = ax.imshow(values, cmap="RdBu_r", vmin=-limit, vmax=limit, aspect="auto")
        ax.set_xticks(range(len(factors)), factors, rotation=90)
        ax.set_yticks(range(len(features)), features, fontsize=7)
        ax.grid(False)
        fig.colorbar(image, ax=ax, shrink=0.6, label="loading")

    return fg.render(draw, (2.5 + 0.45 * len(factors), 1.5 + 0.16 * len(features)))
