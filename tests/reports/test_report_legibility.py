"""What a reader sees on the report's pages: labels inside the figures, no overlapping tick
labels, undefined numbers shown as a dash, subsampled plots that say so."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

import biovae
from biovae.config import FitConfig, TrainConfig
from biovae.reports import figures as fg
from biovae.reports import sections_data, write_report
from biovae.reports.analysis import project_2d
from biovae.reports.plots import latent_map
from biovae.reports.plots_diagnostics import predictive_check
from biovae.reports.sections_markers import dot_plot

pytest.importorskip("matplotlib")

LONG = "T cell very long name of a cell type that goes on and on, level {}"


def _texts(fig) -> list:
    """Every visible tick label and legend of ``fig``."""
    out = [t for ax in fig.axes for t in (*ax.get_xticklabels(), *ax.get_yticklabels())]
    out += [leg for ax in fig.axes for leg in [ax.get_legend()] if leg is not None]
    out += list(fig.legends)
    return [t for t in out if t.get_visible() and (not hasattr(t, "get_text") or t.get_text())]


def _outside(fig) -> list[str]:
    """Texts that do not fit inside the figure (cut off in the PNG)."""
    renderer = fig.canvas.get_renderer()
    box = fig.bbox
    bad = []
    for t in _texts(fig):
        ext = t.get_window_extent(renderer)
        if ext.x0 < box.x0 - 1 or ext.x1 > box.x1 + 1 or ext.y0 < box.y0 - 1:
            bad.append(getattr(t, "get_text", lambda t=t: type(t).__name__)())
    return bad


def test_long_category_names_stay_inside_the_latent_map(drawn) -> None:
    rng = np.random.default_rng(0)
    proj = project_2d(rng.normal(size=(120, 3)))
    latent_map(proj, np.array([LONG.format(i % 4) for i in range(120)], dtype=object), "type")
    assert _outside(drawn[-1]) == []
    legend = drawn[-1].legends[0]
    names = [t.get_text() for t in legend.get_texts()]
    assert len(set(names)) == 4 and all("…" in n for n in names)
    assert {n[-12:] for n in names} == {f"level {i} (30)" for i in range(4)}  # kept apart


def test_a_map_of_79_populations_names_the_largest_and_groups_the_rest(drawn) -> None:
    """79 populations (the HGDP panel) drew a legend of 29 names in tab20 colours and an
    "other" group in a full colour over most of the map; now the 19 largest are named, the
    other 60 are one grey group, last in the legend."""
    from matplotlib.colors import to_hex

    from biovae.reports.plots import MAX_LEGEND

    rng = np.random.default_rng(0)
    sizes = np.r_[np.arange(40, 21, -1), np.full(60, 10)]  # 19 large, 60 small populations
    pops = np.repeat([f"population {i}" for i in range(79)], sizes).astype(object)
    rng.shuffle(pops)
    latent_map(project_2d(rng.normal(size=(len(pops), 3))), pops, "population")
    fig = drawn[-1]
    names = [t.get_text() for leg in fig.legends for t in leg.get_texts()]
    assert len(names) == MAX_LEGEND <= 20
    assert names[:19] == [f"population {i} ({sizes[i]})" for i in range(19)]
    assert names[-1] == "60 others (600)"
    grey = [c for c in fig.axes[0].collections if c.get_label() == "60 others (600)"]
    assert len(grey) == 1 and to_hex(grey[0].get_facecolor()[0], keep_alpha=False) == fg.MUTED
    assert _outside(fig) == []


def test_long_group_names_stay_inside_the_dot_plot(drawn) -> None:
    genes = ["g1", "g2", "g3"]
    tables, chosen = [], {}
    for i in range(3):
        t = pd.DataFrame(
            {"non_zeros_proportion1": [0.5, 0.2, 0.9], "raw_normalized_mean1": [1.0, 2.0, 3.0]},
            index=genes,
        )
        tables.append(t)
        chosen[LONG.format(i)] = genes
    dot_plot(tables, chosen)
    assert _outside(drawn[-1]) == []


def _overlapping(ax) -> list[tuple[str, str]]:
    renderer = ax.figure.canvas.get_renderer()
    labels = [t for t in ax.xaxis.get_ticklabels(which="both") if t.get_visible() and t.get_text()]
    boxes = [t.get_window_extent(renderer) for t in labels]
    return [
        (labels[i].get_text(), labels[j].get_text())
        for i in range(len(boxes))
        for j in range(i + 1, len(boxes))
        if boxes[i].overlaps(boxes[j])
    ]


def test_predictive_check_tick_labels_do_not_run_into_each_other(drawn) -> None:
    """Means between 2.3 and 3.8 (less than a decade): log axes labelled every minor tick."""
    rep = np.linspace(2.3, 3.8, 20)
    stats = {
        "mean": {
            "replicated_mean": rep.tolist(),
            "observed": (rep * 0.2 + 2.4).tolist(),
            "outside": [i % 3 == 0 for i in range(20)],
        }
    }
    predictive_check(stats)
    assert _overlapping(drawn[-1].axes[0]) == []


def test_predictive_check_ticks_apart_over_one_to_two_decades(drawn) -> None:
    """CellBench means 19–92 against observed 20–750: one decade tick in view, and matplotlib
    labelled the minor ticks 2, 3, 4, 6 × 10ⁿ on top of each other."""
    rep = np.geomspace(19.0, 92.0, 40)
    stats = {
        "mean": {
            "replicated_mean": rep.tolist(),
            "observed": np.geomspace(20.0, 750.0, 40).tolist(),
            "outside": [i % 3 == 0 for i in range(40)],
        }
    }
    predictive_check(stats)
    ax = drawn[-1].axes[0]
    assert ax.get_xscale() == "log" and _overlapping(ax) == []
    labels = [t.get_text() for t in ax.yaxis.get_ticklabels(which="both") if t.get_text()]
    assert len(labels) >= 2 and not any("3\\times" in t for t in labels)  # no minor labels


@pytest.fixture(scope="module")
def one_feature_vae():
    """A VAE of a single feature: correlations across features are undefined."""
    x = np.random.default_rng(0).normal(size=(60, 1)).astype(np.float32)
    cfg = FitConfig(train=TrainConfig(epochs=2, batch_size=32))
    return biovae.VAE("gaussian", n_latent=1, hidden=(8,), config=cfg).fit(x), x


def test_an_undefined_correlation_is_a_dash_not_nan(one_feature_vae, tmp_path) -> None:
    est, x = one_feature_vae
    page = write_report(est, tmp_path / "r.html", data=x).read_text(encoding="utf-8")
    page = re.sub(r"data:image/png;base64,[^\"]*", "", page)
    tiles = {
        label: value
        for value, label in re.findall(
            r'<div class="value">([^<]*)</div><div class="label">([^<]*)</div>', page
        )
    }
    assert tiles["sample vs data statistics (r)"] == "—"
    assert not re.search(r"\bnan\b", page, flags=re.IGNORECASE)
    assert "the correlation of the means is r = —." in page


def test_subsampled_plots_say_how_many_records_they_show(
    one_feature_vae, tmp_path, monkeypatch
) -> None:
    est, x = one_feature_vae
    monkeypatch.setattr(sections_data, "MAX_RECORDS", 25)
    page = write_report(est, tmp_path / "r.html", data=x).read_text(encoding="utf-8")
    assert "All entries of a random 25 of the 60 records" in page
    assert "mean and variance over a random 25 of the 60 records" in page
    monkeypatch.setattr(sections_data, "MAX_RECORDS", 2000)
    page = write_report(est, tmp_path / "r.html", data=x).read_text(encoding="utf-8")
    assert "All entries of the 60 records" in page


def test_long_feature_names_do_not_stretch_the_reconstruction_heatmap(drawn) -> None:
    from biovae.reports.plots_data import reconstruction_heatmap

    names = [f"{'annotation ' * 20}gene {i}" for i in range(4)]  # 200+ characters each
    x = np.arange(12.0).reshape(3, 4)
    reconstruction_heatmap(x, x, names, ["r1", "r2", "r3"], "value")
    fig = drawn[-1]
    assert fig.get_size_inches()[1] < 5
    assert _outside(fig) == []
    shown = [t.get_text() for t in fig.axes[0].get_xticklabels()]
    assert len(set(shown)) == 4 and all(s.endswith(f"gene {i}") for i, s in enumerate(shown))


def test_training_curves_of_a_short_fit_tick_whole_epochs(drawn) -> None:
    """A 4-epoch fit was ticked 1.0, 1.5, 2.0, ... (a 15-epoch one 2.5, 5.0, 7.5, ...): epochs
    that do not exist."""
    from biovae.reports.plots import training_curves

    history = [
        {"epoch": e, "elbo": -300.0 + 10 * e, "recon": 290.0 - 10 * e, "kl": 1.0 + 0.1 * e}
        for e in range(1, 5)
    ]
    training_curves(history, kept=4)
    for ax in drawn[-1].axes:
        ticks = [t for t in ax.get_xticks() if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
        assert len(ticks) >= 2 and all(float(t).is_integer() for t in ticks)


def test_numeric_latent_map_names_its_scale_and_its_missing_records(drawn) -> None:
    """Age with 183 of 551 missing: grey points nobody explained, a colour bar without a name."""
    rng = np.random.default_rng(0)
    proj = project_2d(rng.normal(size=(60, 3)))
    age = rng.uniform(20, 90, 60)
    age[:7] = np.nan
    latent_map(proj, age, "age")
    fig = drawn[-1]
    scale = [ax for ax in fig.axes if ax.get_ylabel() == "age"]
    assert len(scale) == 1  # the colour bar
    legends = [ax.get_legend() for ax in fig.axes if ax.get_legend() is not None]
    assert [t.get_text() for leg in legends for t in leg.get_texts()] == ["missing (7)"]
    assert _outside(fig) == []


def test_reconstruction_heatmap_rows_of_different_records_read_differently(drawn) -> None:
    from biovae.reports.plots_data import reconstruction_heatmap

    ids = [f"ZellerG_2014.metaphlan_bugs_list.stool:CCIS{n}ST-4-0" for n in (1237, 1570, 9981)]
    x = np.arange(6.0).reshape(3, 2)
    reconstruction_heatmap(x, x, ["a", "b"], ids, "value")
    shown = [t.get_text() for t in drawn[-1].axes[0].get_yticklabels()]
    assert len(set(shown)) == 3


def test_dot_plot_says_what_dot_sizes_mean(drawn) -> None:
    genes = ["g1", "g2"]
    tables = [
        pd.DataFrame(
            {"non_zeros_proportion1": [0.5, 0.2], "raw_normalized_mean1": [1.0, 2.0]}, index=genes
        )
        for _ in range(2)
    ]
    dot_plot(tables, {"A": ["g1"], "B": ["g2"]})
    fig = drawn[-1]
    legend = fig.axes[0].get_legend()
    assert legend is not None and legend.get_title().get_text() == "records with a count"
    assert [t.get_text() for t in legend.get_texts()] == ["25%", "50%", "75%", "100%"]
    assert _outside(fig) == []


def test_study_names_in_a_map_legend_keep_the_part_that_tells_them_apart(drawn) -> None:
    studies = [
        f"{name}.metaphlan_bugs_list.stool"
        for name in ("FengQ_2015", "HanniganGD_2017", "VogtmannE_2016", "YuJ_2015", "ZellerG_2014")
    ]
    rng = np.random.default_rng(0)
    proj = project_2d(rng.normal(size=(100, 3)))
    latent_map(proj, np.array([studies[i % 5] for i in range(100)], dtype=object), "studyID")
    names = [t.get_text() for leg in drawn[-1].legends for t in leg.get_texts()]
    # was "HanniganGD_20…s_list.stool (20)": the shared suffix kept, the year cut
    assert sorted(names) == sorted(f"{s.split('.')[0]}… (20)" for s in studies)
    assert _outside(drawn[-1]) == []


@pytest.mark.parametrize(
    ("activity", "entries"),
    [
        ([0.5, 0.2, 0.1], ["active", "threshold 0.01"]),
        ([0.5, 0.001, 0.1], ["active", "inactive", "threshold 0.01"]),
        ([0.001, 0.002], ["inactive", "threshold 0.01"]),
    ],
)
def test_latent_usage_legend_names_only_the_bar_colours_that_occur(
    drawn, activity, entries
) -> None:
    from biovae.reports.plots import latent_usage

    latent_usage(np.array(activity), 0.01, kl=np.ones(len(activity)))
    shown = [t.get_text() for leg in drawn[-1].legends for t in leg.get_texts()]
    assert shown == entries  # "inactive" was listed with every dimension active


def test_the_demo_legend_shows_long_cell_type_names_whole_on_two_lines(drawn) -> None:
    """The PBMC demo's legend read "CD8+/CD45RA+ …ve Cytotoxic": the middle of the name cut."""
    labels = ["CD8+/CD45RA+ Naive Cytotoxic", "CD4+/CD45RA+/CD25- Naive T", "Dendritic"]
    proj = project_2d(np.random.default_rng(0).normal(size=(93, 3)))

    def axes_height(names: list[str]) -> float:
        values = np.array([names[i % 3] for i in range(90)] + [""] * 3, dtype=object)
        latent_map(proj, values, "bulk_labels")
        return drawn[-1].axes[0].get_position().height * drawn[-1].get_size_inches()[1]

    one_line = axes_height(["CD8+ Cytotoxic T cells", *labels[1:]])
    height = axes_height(labels)
    fig = drawn[-1]
    names = [t.get_text() for leg in fig.legends for t in leg.get_texts()]
    assert "CD8+/CD45RA+ Naive\nCytotoxic (30)" in names
    assert "CD4+/CD45RA+/CD25- Naive T (30)" in names and "missing (3)" in names
    assert not any("…" in n for n in names)
    assert _outside(fig) == []
    # the figure grows by the legend's second line: the map keeps its height (was 0.18 in less)
    assert abs(height - one_line) < 0.1


def test_dot_plot_names_its_groups_as_a_map_legend_does(drawn) -> None:
    genes = ["g1", "g2"]
    tables = [
        pd.DataFrame(
            {"non_zeros_proportion1": [0.5, 0.2], "raw_normalized_mean1": [1.0, 2.0]}, index=genes
        )
        for _ in range(2)
    ]
    groups = ["CD4+/CD45RA+/CD25- Naive T helper", "Dendritic"]
    dot_plot(tables, {groups[0]: ["g1"], groups[1]: ["g2"]})
    fig = drawn[-1]
    names = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert names == ["CD4+/CD45RA+/CD25- Naive T\nhelper", "Dendritic"]  # was "CD4+/…T helper"
    assert _outside(fig) == []
