"""Matplotlib plumbing of the report: one house style, figures rendered to PNG bytes.

Figures are built with the object API (:class:`matplotlib.figure.Figure` on an Agg canvas),
never through ``pyplot``, so rendering touches no global figure state and needs no display.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from typing import Any

#: Colours used across the report (train/validation, active/collapsed, reference lines).
INK = "#1f2933"
MUTED = "#9aa5b1"
TRAIN = "#2563eb"
VALIDATION = "#ea580c"
ACTIVE = "#2563eb"
COLLAPSED = "#cbd2d9"
MISSING = "#d4d4d8"
SHADE = "#fde68a"

_STYLE: dict[str, Any] = {
    "font.size": 10.5,
    "axes.titlesize": 12,
    "axes.titleweight": "bold",
    "axes.titlelocation": "left",
    "axes.labelsize": 10.5,
    "axes.edgecolor": "#52606d",
    "axes.labelcolor": INK,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "axes.axisbelow": True,
    "grid.color": "#e4e7eb",
    "grid.linewidth": 0.8,
    "xtick.color": "#52606d",
    "ytick.color": "#52606d",
    "legend.frameon": False,
    "legend.fontsize": 9.5,
    "figure.facecolor": "white",
    "savefig.facecolor": "white",
    "image.cmap": "viridis",
}

DPI = 110


def require_matplotlib():
    """matplotlib with its Agg canvas, or a one-line :class:`~biovae.errors.MissingDependencyError`
    naming the ``report`` extra. Commands call it before any work when they will draw."""
    from biovae.errors import require

    mpl = require("matplotlib", "report")
    require("matplotlib.backends.backend_agg", "report")
    return mpl


def render(draw: Callable[[Any], None], size: tuple[float, float]) -> bytes:
    """Create a figure of ``size`` inches, let ``draw(fig)`` fill it, return it as PNG bytes."""
    mpl = require_matplotlib()
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    with mpl.rc_context(_STYLE):
        fig = Figure(figsize=size, dpi=DPI, layout="constrained")
        FigureCanvasAgg(fig)
        draw(fig)
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None})
    return buf.getvalue()


#: Okabe & Ito's eight colours, told apart with any colour-vision deficiency; tab10's orange
#: and green, the 2nd and 3rd categories of a map, look alike to a protanope.
OKABE_ITO = (
    "#0072b2",
    "#e69f00",
    "#009e73",
    "#d55e00",
    "#cc79a7",
    "#56b4e9",
    "#f0e442",
    "#000000",
)


#: Paul Tol's "muted" qualitative scheme (https://personal.sron.nl/~pault/, "Colour schemes"),
#: in the order he draws it: nine colours that stay at least ΔE 15 apart under simulated
#: protanopia, deuteranopia and tritanopia; Tol offers no larger set that does.
TOL_MUTED = (
    "#332288",
    "#88ccee",
    "#44aa99",
    "#117733",
    "#999933",
    "#ddcc77",
    "#cc6677",
    "#882255",
    "#aa4499",
)
#: Marker shapes of the second and third rounds of :data:`TOL_MUTED`'s colours.
MARKERS = ("o", "s", "^")
#: Categories :func:`category_styles` tells apart at most (a map groups the rest as "other").
MAX_STYLES = len(TOL_MUTED) * len(MARKERS)


def category_styles(n: int) -> list[tuple[str, str]]:
    """(colour, marker) of ``n`` categories, each pair told apart by colour-blind readers:
    Okabe–Ito circles up to 8 categories; beyond, Tol's nine muted colours as circles, then
    again as squares, then as triangles, so two categories share a colour only with different
    shapes (no palette of more than about nine colours stays apart for them). At most
    :data:`MAX_STYLES`; a map draws its largest categories and groups the rest as "other"."""
    if n > MAX_STYLES:
        raise ValueError(f"{n} categories: at most {MAX_STYLES} can be told apart")
    if n <= len(OKABE_ITO):
        return [(c, MARKERS[0]) for c in OKABE_ITO[:n]]
    k = len(TOL_MUTED)
    return [(TOL_MUTED[i % k], MARKERS[i // k]) for i in range(n)]


def shorten(text: object, width: int) -> str:
    """``text`` cut to at most ``width`` characters with an ellipsis in the middle, so that
    names differing only at the end (``... type 1``, ``... type 2``) stay apart."""
    text = str(text)
    if len(text) <= width:
        return text
    head = (width - 1) // 2 + (width - 1) % 2
    return text[:head] + "…" + text[len(text) - (width - 1 - head) :]


#: Characters after which :func:`wrap_label` may break a label onto its next line.
BREAK_AFTER = " /_-.,;:|"


def wrap_label(text: object, width: int, lines: int = 2) -> str:
    """``text`` on at most ``lines`` lines of at most ``width`` characters, each broken after
    the last space or separator (:data:`BREAK_AFTER`) in its second half, else at ``width``;
    what the last line cannot hold is cut at its end, with an ellipsis. The rule of names in a
    legend or beside an axis: read from their start, whole when two lines hold them, where a
    cut in the middle (``CD8+/CD45RA+ …ve Cytotoxic``) hid the words naming the category."""
    rest, out = str(text), []
    while len(rest) > width and len(out) < lines - 1:
        breaks = [i + 1 for i, c in enumerate(rest[:width]) if c in BREAK_AFTER]
        cut = breaks[-1] if breaks and breaks[-1] >= width // 2 else width
        out.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if len(rest) > width:
        rest = rest[: width - 1].rstrip() + "…"
    return "\n".join([*out, rest])


def shorten_apart(
    texts: Sequence[object], width: int, limit: int = 40, lines: int = 1
) -> list[str]:
    """Each of ``texts`` cut to ``width`` characters keeping the part that tells it from the
    others, widened (up to ``limit`` characters) until texts that differ stay apart.

    What all texts share at their start or end is cut first: study names ending alike
    (``FengQ_2015.metaphlan_bugs_list.stool``, ``YuJ_2015.metaphlan_bugs_list.stool``) keep
    their first words, record ids of one study their own end, where a cut in the middle kept the
    shared ``…s_list.stool`` and dropped the year, or gave different records one label.
    Texts sharing nothing to cut are cut in the middle (:func:`shorten`) on one line, or with
    ``lines`` > 1 (the names of a legend or of an axis' categories) wrapped onto that many
    lines (:func:`wrap_label`), unless texts then read alike (they differ only past what the
    lines hold), which are cut in the middle on one line."""
    texts = [str(t) for t in texts]
    distinct = sorted(set(texts))
    head, tail = _shared_ends(distinct)
    for w in range(width, max(width, limit) + 1):
        cut = [_cut_around(t, head, len(t) - tail, w, lines) for t in texts]
        if len(set(cut)) == len(distinct):
            return cut
    if lines > 1:  # they differ past what the lines hold: cut in the middle, keeping both ends
        return shorten_apart(texts, width, limit)
    return cut


def _shared_ends(texts: Sequence[str]) -> tuple[int, int]:
    """Lengths of the start and of the end all of ``texts`` share (0, 0 for fewer than two)."""
    if len(texts) < 2:
        return 0, 0

    shortest = min(map(len, texts))

    def shared(items: Sequence[str]) -> int:
        differ = (i for i, chars in enumerate(zip(*items)) if len(set(chars)) > 1)
        return next(differ, shortest)

    head = shared(texts)
    tail = shared([t[::-1] for t in texts])
    return head, min(tail, shortest - head)


def _cut_around(text: str, start: int, end: int, width: int, lines: int = 1) -> str:
    """``text`` cut to ``width`` characters keeping ``text[start:end]``, the part that differs,
    and what fits around it (after it first), cut at separators, an ellipsis where text was
    cut; wrapped onto ``lines`` lines where there is nothing shared to cut."""
    n = len(text)
    if n <= width:
        return text
    if end - start + 2 > width or start >= end:  # no shared ends to cut, or too long a core
        return shorten(text, width) if lines == 1 else wrap_label(text, width, lines)

    def size(a: int, b: int) -> int:
        return b - a + (a > 0) + (b < n)

    # the shared suffix, cut, is cut whole at a separator (FengQ_2015…, not
    # FengQ_2015.metaphlan_bu…); the shared prefix kept from a word on (…on, level 0)
    b = end
    while b < n and size(start, b + 1) <= width:
        b += 1
    after = [i for i, c in enumerate(text[end:b]) if not c.isalnum()] if b < n else []
    b = end + after[0] if after else b
    a = start
    while a > 0 and size(a - 1, b) <= width:
        a -= 1
    before = [i for i, c in enumerate(text[a:start]) if not c.isalnum()] if a > 0 else []
    a = a + before[0] + 1 if before else a
    return ("…" if a > 0 else "") + text[a:b] + ("…" if b < n else "")


def integer_locator():
    """A tick locator that places ticks on whole numbers only (epochs, counts)."""
    require_matplotlib()
    from matplotlib.ticker import MaxNLocator

    return MaxNLocator(integer=True)


def colormap(name: str):
    """A registered matplotlib colormap by name."""
    return require_matplotlib().colormaps[name]


def null_locator():
    """A tick locator that places no ticks."""
    require_matplotlib()
    from matplotlib.ticker import NullLocator

    return NullLocator()


def note(ax: Any, text: str) -> None:
    """A small annotation in the upper-left corner of ``ax`` (e.g. a correlation)."""
    ax.text(
        0.03,
        0.97,
        text,
        transform=ax.transAxes,
        va="top",
        ha="left",
        fontsize=10,
        color=INK,
        bbox={"boxstyle": "round,pad=0.3", "fc": "white", "ec": "#e4e7eb"},
    )
