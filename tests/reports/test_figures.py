"""The report's shared figure plumbing: category colours a colour-blind reader can tell apart,
and shortened names that keep different things apart."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from biovae.reports import figures as fg

pytest.importorskip("matplotlib")

#: Machado, Oliveira & Fernandes (2009) dichromacy simulation, severity 1, on linear RGB.
DICHROMACY = {
    "protanopia": [
        [0.152286, 1.052583, -0.204868],
        [0.114503, 0.786281, 0.099216],
        [-0.003882, -0.048116, 1.051998],
    ],
    "deuteranopia": [
        [0.367322, 0.860646, -0.227968],
        [0.280085, 0.672501, 0.047413],
        [-0.011820, 0.042940, 0.968881],
    ],
    "tritanopia": [
        [1.255528, -0.076749, -0.178779],
        [-0.078411, 0.930809, 0.147602],
        [0.004733, 0.691367, 0.303900],
    ],
}
#: sRGB (D65) linear RGB to XYZ.
RGB_TO_XYZ = np.array(
    [[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]]
)
WHITE = np.array([0.95047, 1.0, 1.08883])


def _linear(hex_colours: list[str]) -> np.ndarray:
    from matplotlib.colors import to_rgb

    c = np.array([to_rgb(h) for h in hex_colours])
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def _lab(rgb_linear: np.ndarray) -> np.ndarray:
    xyz = rgb_linear @ RGB_TO_XYZ.T / WHITE
    f = np.where(xyz > 0.008856, np.cbrt(xyz), 7.787 * xyz + 16 / 116)
    return np.stack([116 * f[:, 1] - 16, 500 * (f[:, 0] - f[:, 1]), 200 * (f[:, 1] - f[:, 2])], 1)


def _closest_pair(colours: list[str], vision: str) -> float:
    """Smallest CIE76 ΔE between two of ``colours`` as seen with ``vision``."""
    seen = np.clip(_linear(colours) @ np.array(DICHROMACY[vision]).T, 0.0, 1.0)
    lab = _lab(seen)
    return min(float(np.linalg.norm(a - b)) for a, b in itertools.combinations(lab, 2))


#: Paul Tol's "muted" scheme as he publishes it (https://personal.sron.nl/~pault/).
TOL_MUTED = {
    "#cc6677", "#332288", "#ddcc77", "#117733", "#88ccee",
    "#882255", "#44aa99", "#999933", "#aa4499",
}  # fmt: skip


@pytest.mark.parametrize("vision", sorted(DICHROMACY))
@pytest.mark.parametrize("n", range(2, 9))
def test_category_colours_stay_apart_for_colour_blind_readers(n: int, vision: str) -> None:
    """tab10's orange and green (categories 2 and 3) were ΔE 4.6 apart under protanopia."""
    colours = [c for c, _ in fg.category_styles(n)]
    assert _closest_pair(colours, vision) > 10.0


@pytest.mark.parametrize("vision", sorted(DICHROMACY))
@pytest.mark.parametrize("n", [9, 12, 19, 20, fg.MAX_STYLES])
def test_more_categories_than_okabe_ito_stay_apart_by_colour_or_shape(n: int, vision: str) -> None:
    """Beyond eight categories tab10/tab20 gave pairs (orange and light orange, green and
    light green) a colour-blind reader cannot tell apart; now two categories whose colours
    are closer than ΔE 10 for any reader have different marker shapes."""
    styles = fg.category_styles(n)
    assert len(styles) == n and len(set(styles)) == n  # no two categories look the same
    assert {c for c, _ in styles} == TOL_MUTED  # the documented set, nothing else
    for marker in {m for _, m in styles}:
        same_shape = [c for c, m in styles if m == marker]
        if len(same_shape) > 1:
            assert _closest_pair(same_shape, vision) > 10.0


def test_category_styles_refuse_more_than_they_tell_apart() -> None:
    assert len(fg.category_styles(fg.MAX_STYLES)) == fg.MAX_STYLES
    with pytest.raises(ValueError, match="at most"):
        fg.category_styles(fg.MAX_STYLES + 1)


def test_shortened_ids_that_differ_stay_apart() -> None:
    """Record ids of one study differ only between a long shared prefix and a shared suffix."""
    ids = [f"ZellerG_2014.metaphlan_bugs_list.stool:CCIS{n}ST-4-0" for n in (1237, 1570, 9981)]
    assert len({fg.shorten(i, 14) for i in ids}) == 1  # what the heatmap showed before
    cut = fg.shorten_apart(ids, 14)
    assert len(set(cut)) == 3 and all(len(c) <= 40 and "…" in c for c in cut)
    assert fg.shorten_apart(["a", "b", "a"], 14) == ["a", "b", "a"]  # equal ids stay equal
    assert fg.shorten_apart(["x" * 20 + "1", "x" * 20 + "2"], 14) == [
        "…" + "x" * 12 + "1",
        "…" + "x" * 12 + "2",
    ]  # no wider than asked, the shared start cut
    assert fg.shorten_apart(["y" * 20 + "1", "z" * 20 + "2"], 14) == [
        fg.shorten("y" * 20 + "1", 14),
        fg.shorten("z" * 20 + "2", 14),
    ]  # nothing shared: cut in the middle


STUDIES = [
    f"{name}.metaphlan_bugs_list.stool"
    for name in ("FengQ_2015", "HanniganGD_2017", "VogtmannE_2016", "YuJ_2015", "ZellerG_2014")
]


def test_shortened_names_drop_what_they_all_share_not_what_tells_them_apart() -> None:
    assert fg.shorten(STUDIES[1], 26) == "HanniganGD_20…s_list.stool"  # the year lost before
    assert fg.shorten_apart(STUDIES, 26) == [
        "FengQ_2015…",
        "HanniganGD_2017…",
        "VogtmannE_2016…",
        "YuJ_2015…",
        "ZellerG_2014…",
    ]
    same_year = [f"ThomasAM_2018{x}.metaphlan_bugs_list.stool" for x in "ab"]
    assert len({fg.shorten(s, 26) for s in same_year}) == 1  # one label before
    assert fg.shorten_apart(same_year, 26) == ["ThomasAM_2018a…", "ThomasAM_2018b…"]


#: The PBMC demo's ``bulk_labels``: nothing shared at their start or end to cut.
BULK_LABELS = [
    "CD14+ Monocyte",
    "CD19+ B",
    "CD8+/CD45RA+ Naive Cytotoxic",
    "CD4+/CD45RA+/CD25- Naive T",
    "Dendritic",
]


def test_legend_names_sharing_nothing_wrap_whole_instead_of_losing_their_middle() -> None:
    assert fg.shorten_apart(BULK_LABELS, 26)[2] == "CD8+/CD45RA+ …ve Cytotoxic"  # one line
    shown = fg.shorten_apart(BULK_LABELS, 26, lines=2)
    assert shown[2] == "CD8+/CD45RA+ Naive\nCytotoxic"  # was "CD8+/CD45RA+ …ve Cytotoxic"
    assert [s.replace("\n", " ") for s in shown] == BULK_LABELS  # every name whole
    assert all(len(line) <= 26 for s in shown for line in s.split("\n"))
    # names sharing a suffix still drop it, on one line (FengQ_2015…)
    assert fg.shorten_apart(STUDIES, 26, lines=2) == fg.shorten_apart(STUDIES, 26)


def test_wrapped_labels_break_after_separators_and_cut_what_two_lines_cannot_hold() -> None:
    assert fg.wrap_label("short", 10) == "short"
    assert fg.wrap_label("CD4+/CD45RA+/CD25- Naive T", 20) == "CD4+/CD45RA+/CD25-\nNaive T"
    assert fg.wrap_label("abcdefghijklmnop", 10) == "abcdefghij\nklmnop"  # no separator
    assert fg.wrap_label("a b" + "c" * 20, 10) == "a bccccccc\nccccccccc…"  # no break after "a "
    long = "alpha beta gamma delta epsilon zeta eta"
    assert fg.wrap_label(long, 12) == "alpha beta\ngamma delta…"  # the end cut, not the middle
    assert fg.wrap_label(long, 12, lines=3) == "alpha beta\ngamma delta\nepsilon zet…"
    different_ends = [f"{long} {i}" for i in (1, 2)]  # apart only at their end: widened
    shown = fg.shorten_apart([*different_ends, "other"], 12, lines=2)
    assert len(set(shown)) == 3 and all(s.startswith("alpha beta") for s in shown[:2])


def test_wrapped_names_that_differ_only_past_two_lines_stay_apart() -> None:
    """Two long names differing only at their end (and one sharing nothing with them) were
    wrapped from their start and cut at the end of the second line: one legend label for two
    categories. Different names must stay different labels, each line within the limit."""
    names = [
        "Tumour-infiltrating lymphocytes of the biopsy before treatment, CD8+ effector, responder",
        "Tumour-infiltrating lymphocytes of the biopsy before treatment, CD8+ effector, relapse",
        "Normal",
    ]
    shown = fg.shorten_apart(names, 26, lines=2)
    assert len(set(shown)) == 3
    assert all(len(line) <= 40 for s in shown for line in s.split("\n"))
