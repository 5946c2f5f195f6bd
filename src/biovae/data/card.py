"""Model cards as plain data, and their Markdown form (the ``MODEL_CARD.md`` of a model folder).

A card says what a model is for, what it was trained on and how, what it cannot tell you and
the checks to run before its map, scores or samples are used elsewhere. The HTML reports show
the same card (``biovae.reports.model_card``); this module only holds and writes text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

#: the file name of the card in a model folder
MODEL_CARD = "MODEL_CARD.md"


@dataclass(frozen=True)
class Card:
    """``rows``: (what, detail) pairs, plain text; ``notes``: the limits and checks, one
    paragraph each; ``lead``: one sentence under the title."""

    title: str
    lead: str
    rows: tuple[tuple[str, str], ...]
    notes: tuple[str, ...] = ()


def markdown(card: Card, footer: Sequence[str] = ()) -> str:
    """The card as a Markdown document: title, lead, a two-column table, the notes as a list,
    then ``footer`` lines (e.g. versions and the date the model was written)."""
    lines = [f"# {card.title}", "", card.lead, "", "| What | Detail |", "|---|---|"]
    lines += [f"| {_cell(what)} | {_cell(detail)} |" for what, detail in card.rows]
    if card.notes:
        lines += ["", "## Limits and checks before reuse", ""]
        lines += [f"- {note}" for note in card.notes]
    if footer:
        lines += ["", *[f"{line}  " for line in footer]]
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    """Text safe inside a Markdown table cell (one line, no column breaks)."""
    return " ".join(str(text).split()).replace("|", "\\|")
