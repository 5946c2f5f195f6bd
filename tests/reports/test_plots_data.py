"""The data-space plots of the report: what they are drawn from."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("matplotlib")


def test_heatmap_colour_scale_ignores_missing_genotypes(monkeypatch) -> None:
    # a NaN (missing genotype) once made the scale NaN: every cell one colour
    from matplotlib.axes import Axes

    from biovae.reports import plots_data

    seen = []
    draw = Axes.imshow

    def spy(self, values, **kwargs):
        seen.append(kwargs)
        return draw(self, values, **kwargs)

    monkeypatch.setattr(Axes, "imshow", spy)
    observed = np.array([[0.0, 1.0, np.nan], [2.0, np.nan, 1.0]])
    reconstructed = np.array([[0.2, 0.9, 1.1], [1.8, 0.4, 1.0]])
    png = plots_data.reconstruction_heatmap(
        observed, reconstructed, ["a", "b", "c"], ["r1", "r2"], "value"
    )
    assert png.startswith(b"\x89PNG") and len(seen) == 2
    for kwargs in seen:
        assert kwargs["vmin"] == 0.0 and 1.8 < kwargs["vmax"] <= 2.0
        bad, lowest = kwargs["cmap"].get_bad(), kwargs["cmap"](0.0)
        assert bad[3] == 1.0 and not np.allclose(bad[:3], lowest[:3])  # missing stands out


def test_per_position_plot_of_a_long_sequence_keeps_a_readable_height() -> None:
    # a 40 kb record drew 445 rows of 90 positions: a PNG 85,000 pixels tall, minutes to render
    import struct

    from biovae.reports import plots_data

    def height(length: int) -> int:
        rng = np.random.default_rng(0)
        probs = rng.dirichlet(np.ones(5), length)
        observed = rng.integers(0, 5, length)
        labels = [str(i) for i in range(1, length + 1)]
        png = plots_data.sequence_probabilities(probs, observed, "ACGT-", labels, "r1")
        return struct.unpack(">II", png[16:24])[1]

    assert height(5_000) == height(plots_data.MAX_POSITIONS) < 2_000
