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


def palette(n: int) -> list[str]:
    """``n`` distinguishable colours: Okabe–Ito up to 8, safe for colour-blind readers; beyond,
    where no palette is, tab10, then tab20, then tab20 + tab20b + tab20c."""
    if n <= len(OKABE_ITO):
        return list(OKABE_ITO[:n])
    mpl = require_matplotlib()
    names = ("tab10",) if n <= 10 else ("tab20",) if n <= 20 else ("tab20", "tab20b", "tab20c")
    colours = [mpl.colors.to_hex(c) for name in names for c in mpl.colormaps[name].colors]
    return colours[:n]


def shorten(text: object, width: int) -> str:
    """``text`` cut to at most ``width`` characters with an ellipsis in the middle, so that
    names differing only at the end (``... type 1``, ``... type 2``) stay apart."""
    text = str(text)
    if len(text) <= width:
        return text
    head = (width - 1) // 2 + (width - 1) % 2
    return text[:head] + "…" + text[len(text) - (width - 1 - head) :]


def shorten_apart(texts: Sequence[object], width: int, limit: int = 40) -> list[str]:
    """Each of ``texts`` cut as by :func:`shorten`, widened (up to ``limit`` characters) until
    texts that differ stay apart: record ids sharing a long study prefix and a suffix all cut to
    the same ``ZellerG…ST-4-0`` at 14 characters, one tick label for different records."""
    texts = [str(t) for t in texts]
    distinct = len(set(texts))
    for w in range(width, max(width, limit) + 1):
        cut = [shorten(t, w) for t in texts]
        if len(set(cut)) == distinct:
            return cut
    return cut


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
