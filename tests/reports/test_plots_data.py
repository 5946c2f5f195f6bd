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


def test_relative_abundances_are_drawn_on_a_log_scale_with_their_pseudocount() -> None:
    """Shares of taxa (rows summing to at most 1, 1e-7 to 0.5) were drawn as they are: every
    rare taxon sat at 0 on a linear axis. Counts and other tables keep their scales."""
    from biovae.reports.analysis import Scale, display_scale

    x = np.array([[0.5, 0.3, 3e-7, 0.0], [0.2, 0.0, 0.02, 4e-5], [0.9, 1e-3, 0.0, 0.09]])
    scale = display_scale(x)
    assert scale == Scale("log10", 1e-7) and scale.label == "log10(x + 1e-07)"
    np.testing.assert_allclose(
        scale.apply(np.array([0.0, 0.1, 1e-7])), [-7.0, np.log10(0.1 + 1e-7), np.log10(2e-7)]
    )
    assert display_scale(np.array([[0.0, 40.0, 3.0], [1.0, 0.0, 7.0]])).kind == "log1p"  # counts
    assert display_scale(np.array([[0.0, 1.0], [1.0, 1.0]])).kind == "value"  # presence/absence
    assert display_scale(np.array([[0.4, 0.7], [1e-4, 0.9]])).kind == "value"  # rows above 1
    assert display_scale(np.array([[0.5, 0.2], [0.3, 0.4]])).kind == "value"  # one decade
    assert display_scale(np.array([[-0.5, 1e-6], [0.3, 0.4]])).kind == "value"  # negatives
    with pytest.raises(ValueError, match="no scale"):
        Scale("log10")


def test_microbiome_reconstructions_and_samples_are_on_log_axes(fixtures, fast_render) -> None:
    """The report of a model of relative abundances: the entries' scatter in log10(x + ε),
    per-taxon means and variances on log axes, the rare taxa not clipped at 1e-4."""
    import torch

    import biovae
    from biovae.config import FitConfig, TrainConfig
    from biovae.data.readers import read_dataset
    from biovae.reports import sections_data

    torch.manual_seed(0)
    ds = read_dataset(fixtures / "crc_abundance_60x50.tsv")
    cfg = FitConfig(train=TrainConfig(epochs=2, batch_size=32))
    est = biovae.VAE("hurdle_dirichlet", n_latent=2, hidden=(16,), config=cfg).fit(ds)
    smallest = ds.x[ds.x > 0].min()
    eps = 10 ** np.floor(np.log10(smallest))
    sections_data.reconstruction_section(est, ds, None)
    _, scatter, means = fast_render[-3:]
    assert scatter.axes[0].get_xlabel() == f"observed, log10(x + {eps:g})"
    assert scatter.axes[0].get_xscale() == "linear"  # the values themselves are log10
    ax = means.axes[0]
    assert ax.get_xscale() == ax.get_yscale() == "log" and f"floor {eps:.0e}" in ax.get_xlabel()
    mean_x = ax.collections[0].get_offsets()[:, 0]
    assert mean_x.min() < 1e-4  # taxa rarer than the old 1e-4 floor keep their place
    sections_data.samples_section(est, ds)
    moments = fast_render[-1]
    assert [a.get_xscale() for a in moments.axes] == ["log", "log"]
    assert "floor" in moments.axes[1].get_ylabel()
