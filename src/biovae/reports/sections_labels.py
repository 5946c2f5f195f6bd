"""The semi-supervised VAE's label predictions in the report: what its classifier q(y|x) says
of the records, beside the labels they were given."""

from __future__ import annotations

from typing import Any

import numpy as np

from biovae.data.dataset import Dataset
from biovae.errors import DataError
from biovae.reports.content import Highlight, Section, Table

#: Code of a record whose label is not among the model's levels.
UNSEEN = -2


def labels_section(est: Any, ds: Dataset | None, same: bool | None = None) -> Section | None:
    """Per class: records labelled with it, records without a label predicted as it, and the
    share of its labelled records the classifier gives back; None for a model without labels
    or a report without data. ``same``: whether ``ds`` is the fitted data (then the fit's
    validation labels check the probabilities)."""
    if ds is None or not len(ds) or not getattr(est.schema_.labels, "n_classes", 0):
        return None
    classes = est.schema_.labels.levels  # as text
    proba = est.predict_proba(ds)
    predicted = proba.argmax(1)
    try:  # a label the model was not trained on (code −2) counts as none
        given = est.schema_.labels.encode(ds.obs, ds.source, unseen=UNSEEN).numpy()
    except DataError:  # records without the label column: predictions alone
        given = np.full(len(ds), -1)
    labelled = given >= 0
    rows = tuple(
        (
            name,
            f"{int((given == k).sum()):,}",
            f"{int(((predicted == k) & ~labelled).sum()):,}",
            _share(predicted[given == k] == k),
        )
        for k, name in enumerate(classes)
    )
    agree = float((predicted[labelled] == given[labelled]).mean()) if labelled.any() else None
    confidence = float(proba[labelled].max(1).mean()) if labelled.any() else None
    # labels the model never saw: not the labels it was fitted on, whatever the records
    fitted_labels = same and labelled.any() and not (given == UNSEEN).any()
    held = est.held_out_labelled(ds) if fitted_labels else None
    check = (
        _held_out_check(
            predicted[held] == given[held],
            proba[held].max(1),
            getattr(est, "temperature_", 1.0) if getattr(est, "n_calibration_", 0) else None,
        )
        if held is not None
        else ""
    )
    return Section(
        "labels",
        "Label predictions",
        lead=(
            "The classifier q(y|x) of the semi-supervised VAE, applied to every record: each "
            "gets the label with the largest probability. Records without a label get their "
            "prediction from the map alone. On labelled records used in training the agreement "
            "is optimistic; to estimate accuracy, hide some labels before fitting and compare."
        ),
        verdict=_verdict(agree, confidence, int(labelled.sum()), len(ds))
        + _unseen_note(int((given == UNSEEN).sum()))
        + check,
        highlights=(Highlight(_share_value(agree), "labelled records predicted as given"),)
        if agree is not None
        else (),
        tables=(
            Table(
                (
                    "label",
                    "labelled",
                    "predicted (unlabelled records)",
                    "labelled predicted as given",
                ),
                rows,
                caption=f"{int(labelled.sum()):,} of {len(ds):,} records labelled",
            ),
        ),
    )


def _unseen_note(n: int) -> str:
    if not n:
        return ""
    return (
        f" {n:,} record{'s carry labels' if n > 1 else ' carries a label'} the model was not "
        "trained on; counted as unlabelled."
    )


def _held_out_check(hits: np.ndarray, top: np.ndarray, temperature: float | None = None) -> str:
    """Agreement and confidence on labelled records held out of training, and whether the
    confidence runs above what the agreement allows (its 95 % Wilson upper bound);
    ``temperature``: the probabilities' temperature, when it was fitted on these records."""
    n, k = len(hits), int(hits.sum())
    if not n:
        return " No labelled record was held out of training to check the probabilities on."
    centre, half = (k + 1.92) / (n + 3.84), 1.96 * np.sqrt(k * (n - k) / n + 0.96) / (n + 3.84)
    text = (
        f" On the {n:,} labelled records held out of training (validation), {k / n:.1%} are "
        f"predicted as given, with a mean top probability of {top.mean():.1%}"
    )
    if temperature is not None:
        text += (
            f" (the probabilities' temperature, T = {temperature:.3g}, was fitted on these "
            "records, which makes the check favourable)"
        )
    if top.mean() > centre + half:
        return text + ": above what that agreement allows — the probabilities are overconfident."
    return text + "."


def _share(hits: np.ndarray) -> str:
    return f"{hits.mean():.1%}" if len(hits) else "—"


def _share_value(value: float | None) -> str:
    return "—" if value is None else f"{value:.1%}"


def _verdict(agree: float | None, confidence: float | None, n_labelled: int, n: int) -> str:
    if agree is None:
        return f"None of the {n:,} records carries a label: predictions only."
    gap = confidence - agree
    text = (
        f"{agree:.1%} of the {n_labelled:,} labelled records are predicted as given, with a mean "
        f"top probability of {confidence:.1%}."
    )
    if gap > 0.1:
        text += (
            " The probabilities run above the agreement even on records seen in training: read "
            "them as a ranking, not as calibrated chances."
        )
    return text
