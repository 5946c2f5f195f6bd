"""What a report is made of: facts, plots and sections (plain data; html.py renders them).

All text here is plain text; the HTML writer escapes it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Plot:
    """One embedded figure: ``key`` becomes its ``data-plot`` attribute (stable for tests)."""

    key: str
    png: bytes
    alt: str
    caption: str = ""
    wide: bool = True


@dataclass(frozen=True)
class Table:
    """A small table of numbers already formatted as text (``rows`` match ``columns``)."""

    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    caption: str = ""


@dataclass(frozen=True)
class Highlight:
    """A headline number shown at the top of the report (e.g. ``"4 / 10"``, active units)."""

    value: str
    label: str
    good: bool | None = None


@dataclass(frozen=True)
class Section:
    """A titled part of the report: a lead paragraph, an optional verdict, plots, notes."""

    id: str
    title: str
    lead: str = ""
    verdict: str = ""
    plots: tuple[Plot, ...] = ()
    notes: tuple[str, ...] = ()
    highlights: tuple[Highlight, ...] = field(default=())
    tables: tuple[Table, ...] = ()


def number(value: float | None, spec: str) -> str:
    """``value`` formatted with ``spec`` (e.g. ``".3f"``), or a dash where it is undefined
    (None, NaN or infinite: a correlation of a constant, a statistic of no records)."""
    if value is None or not math.isfinite(value):
        return "—"
    return format(value, spec)


def needs_data(id_: str, title: str, what: str) -> Section:
    """Placeholder section for a report written without data."""
    return Section(
        id_,
        title,
        notes=(
            f"{what} needs data: give the records (for example the training data) to see "
            "this section: biovae report MODEL DATA, or write_report(..., data=dataset).",
        ),
    )
