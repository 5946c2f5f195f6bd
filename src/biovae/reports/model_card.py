"""The model card section of a report: the card of :mod:`biovae.model_card` (what the model is
for, what it was trained on, what it cannot tell you, and the checks to run before using its
map, scores or samples elsewhere) as a report section."""

from __future__ import annotations

from typing import Any

from biovae.data.card import Card
from biovae.model_card import latent_card
from biovae.reports.content import Section, Table


def card_section(card: Card, id_: str = "model-card", columns=("What", "Detail"), **kw) -> Section:
    """A report section showing ``card`` (``kw``: further :class:`Section` fields)."""
    return Section(
        id_, card.title, lead=card.lead, tables=(Table(columns, card.rows),), notes=card.notes, **kw
    )


def model_card_section(est: Any, **card: Any) -> Section:
    """Intended use, training data, limits and safeguards of a fitted estimator (``card``:
    the keyword arguments of :func:`biovae.model_card.latent_card`, e.g. ``use``)."""
    return card_section(latent_card(est, **card))
