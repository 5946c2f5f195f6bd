"""Labels of a semi-supervised model: the known levels and their integer codes.

Records whose label is missing (empty, NaN), spelled ``unknown`` or equal to the spec's
``unlabeled`` category (e.g. scanpy's "Unknown" or a user's "unassigned") are unlabelled
(code −1), and, when no ``unlabeled`` category is named, so are those scikit-learn's ``y`` marks
−1 (:func:`target_labels`) and the −1 of a label column of numbers or of a categorical whose
categories are numbers (:func:`column_unlabelled`; a text column's "-1", or that of a
categorical of text, is a label). Labelled levels that differ only in letter case or
surrounding spaces are refused, and so are labels that are non-integer numbers (0.5, an
infinity: scikit-learn's target type "continuous", a regression target) unless a categorical
declares them (:func:`check_classes`); integer-valued floats (1.0) are classes.
The levels are saved with the model, in the order a fit gave them (a model saved when they
were sorted as text keeps that order), so new data are coded identically.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from biovae.errors import DataError
from biovae.levels import (
    aliases,
    class_order,
    level_text,
    one_spelling_clash,
    whole_number_text,
)

#: Spellings of "no label" (compared case-insensitively after stripping spaces).
UNLABELLED = frozenset({"", "nan", "na", "<na>", "none", "unknown", "unlabelled", "unlabeled"})


def unlabelled_mask(values: np.ndarray, unlabeled: Any = None) -> np.ndarray:
    """True where a label is missing, spelled like "unknown", or is the level ``unlabeled``
    names (any scalar, spelled as :func:`biovae.levels.level_text` does: -1, -1.0 and "-1"
    are one level)."""
    extra = set()
    if unlabeled is not None:  # "-1.0" names level -1 too (as biovae.levels.find_level reads)
        text = level_text([unlabeled])[0].strip().lower()
        extra = {text, whole_number_text(text)}
    spellings = UNLABELLED | extra
    return np.asarray([v.strip().lower() in spellings for v in level_text(values)], dtype=bool)


def column_unlabelled(
    values: np.ndarray, unlabeled: Any = None, levels: tuple[str, ...] = (), numbers: bool = False
) -> np.ndarray:
    """:func:`unlabelled_mask` of a label column; in a column of numbers (int or float, as the
    readers hold a numeric metadata column: float64, or ``numbers``: a categorical of numbers,
    which the readers spell as text) −1 too, scikit-learn's mark of an unlabelled record (as
    in ``y``), unless an ``unlabeled`` category is named (−1 is then a class like any other)
    or −1 is one of ``levels`` (a model fitted when such a −1 was a class: its data are coded
    as it was fitted). A text column's "-1" (or a categorical of text's) is a label: the
    column's type, not its spelling, says which."""
    values = np.asarray(values)
    missing = unlabelled_mask(values, unlabeled)
    if unlabeled is None and "-1" not in levels:
        if values.dtype.kind in "iuf":
            missing |= values == -1
        elif numbers:
            missing |= level_text(values) == "-1"
    return missing


def declares_numbers(declared: tuple[Any, ...]) -> bool:
    """Whether the categories a categorical column ``declared`` (as
    :attr:`biovae.data.dataset.Dataset.categories` holds them) are numbers."""
    kinds = {np.asarray([v]).dtype.kind for v in declared}
    return bool(kinds) and kinds <= set("iuf")


def target_labels(y: Any, unlabeled: Any = None) -> np.ndarray:
    """scikit-learn's target ``y`` as a label column (object array, one label per record): its
    entries that :func:`unlabelled_mask` reads as no label, with −1 (scikit-learn's mark of an
    unlabelled record; −1.0 and "-1" too) unless an ``unlabeled`` category is named (−1 is
    then a class, as in a label column of numbers; the named marker is read by
    :meth:`LabelSpec.fit`), become None, the others stay as given."""
    labels = np.array(y, dtype=object)  # a copy: y is the caller's
    if labels.ndim == 2 and labels.shape[1] == 1:  # a column vector, as scikit-learn ravels it
        labels = labels[:, 0]
    if labels.ndim != 1:
        raise DataError(
            f"y has shape {labels.shape}, but a semi-supervised model predicts one label per "
            "record (not multi-output or one-hot indicator labels); give one label per record "
            "(a list, 1-D array or Series, e.g. y.argmax(1) of a one-hot y; -1, None or NaN "
            "where a record is unlabelled)"
        )
    labels[unlabelled_mask(labels, -1 if unlabeled is None else None)] = None
    return labels


def fractional(values: np.ndarray) -> np.ndarray:
    """True where an entry is a number that is not a whole one (0.5, an infinity): a
    measurement, not a class. Whole floats (1.0), integers, booleans, NaN (no label) and text
    (``"0.5"``, a class name) are not."""
    values = np.asarray(values)
    if values.dtype.kind == "f":
        v = values.astype(np.float64)
    else:  # an object column: its float entries only
        floats = [isinstance(x, (float, np.floating)) for x in values]
        v = np.array([float(x) if f else 0.0 for x, f in zip(values, floats)], dtype=np.float64)
    with np.errstate(invalid="ignore"):
        return ~np.isnan(v) & (np.isinf(v) | (v != np.trunc(v)))


def check_classes(values: np.ndarray, missing: np.ndarray, where: str) -> None:
    """Refuse labels ``values`` (those not ``missing``) holding a non-integer number: a
    classifier given regression targets makes every distinct value a class of one record, so
    it refuses them, as scikit-learn's classifiers do (type "continuous"); ``where`` names
    them (``"y"``, or the file and column)."""
    hit = np.flatnonzero(fractional(values) & ~np.asarray(missing, dtype=bool))
    if not len(hit):
        return
    raise DataError(
        f"Unknown label type: continuous ({where} holds {len(hit):,} non-integer numbers, "
        f"e.g. {float(values[hit[0]])!r} at record {hit[0] + 1}); "
        "labels are classes: cast them to str or category if these numbers are class names "
        "(in a table, write them as text, e.g. 'dose_0.5'), or bin them into classes "
        "(np.digitize, pd.cut)"
    )


#: The number types labels of scikit-learn's ``y`` are given back as (:func:`target_dtype`).
LABEL_DTYPES = ("int64", "float64")


def target_dtype(y: Any) -> str | None:
    """``"int64"`` or ``"float64"`` when ``y``'s labels are numbers (an array, list or Series of
    them; −1 and NaN included), so that predictions are given back as such; None for text.

    A pandas nullable integer ``y`` (dtype ``Int64``, ``pd.NA`` where unlabelled) is integers,
    as an int64 ``y`` with −1 is, though numpy reads it as floats with NaN."""
    kinds = {"i": "int64", "u": "int64", "f": "float64"}
    dtype = getattr(y, "dtype", None)
    if dtype is None and len(getattr(y, "dtypes", ())) == 1:  # a one-column DataFrame
        dtype = y.dtypes.iloc[0]
    own = kinds.get(getattr(dtype, "kind", None))  # pandas' own dtypes keep their kind
    return own or kinds.get(np.asarray(y).dtype.kind)


def typed_levels(levels: tuple[str, ...], dtype: str | None) -> tuple[Any, ...]:
    """``levels`` as numbers of ``dtype`` (:func:`target_dtype`), or as they are for None."""
    if dtype is None:
        return levels
    return tuple(np.asarray(levels, dtype=np.float64).astype(dtype).tolist())


def _check_unlabeled_found(
    values: np.ndarray, key: str, source: str, unlabeled: Any, declared: tuple[str, ...] = ()
) -> None:
    """An ``unlabeled`` category that no entry of the column spells (and that is not one of
    the usual spellings of "no label") is almost always a typo ("Unasigned"); ignored, the
    records it was meant for would train as a class of their own and be predicted as one.
    A level the column's categorical dtype ``declares`` is spelled as the column does even
    where no record holds it (a fixed vocabulary of cell types, an R factor's levels)."""
    if unlabeled is None or unlabelled_mask(np.asarray([unlabeled], dtype=object)).all():
        return
    for spelled in (values, np.asarray(declared, dtype=object)):
        if (unlabelled_mask(spelled, unlabeled) & ~unlabelled_mask(spelled)).any():
            return
    usual = unlabelled_mask(values)
    levels = sorted(set(level_text(values[~usual])))
    shown = ", ".join(levels[:10]) + (", ..." if len(levels) > 10 else "")
    raise DataError(
        f"{source}: unlabeled category {level_text([unlabeled])[0]!r} matches no entry of label "
        f"column {key!r} (levels: {shown or 'none'}); spell it as the column does or leave "
        "--unlabeled-category (unlabeled_category) out"
    )


@dataclass(frozen=True)
class LabelSpec:
    """Metadata column ``key``, its known ``levels`` (in class order: :meth:`fit`) and the
    ``unlabeled`` category; ``numbers``: the fitted column was numbers (or a categorical of
    them), so that its −1, however a later column spells it, is no label unless ``unlabeled``
    is named (False for models saved before it was kept: their columns' type decides)."""

    key: str | None = None
    levels: tuple[str, ...] = ()
    unlabeled: str | None = None
    numbers: bool = False

    @property
    def n_classes(self) -> int:
        return len(self.levels)

    @classmethod
    def fit(
        cls,
        obs: dict[str, np.ndarray],
        key: str,
        source: str = "data",
        unlabeled: Any = None,
        declared: tuple[Any, ...] = (),
    ) -> LabelSpec:
        """Levels of column ``key``, ordered by :func:`biovae.levels.class_order` (the order
        its categorical dtype ``declared``; else numbers by value when every level is one;
        else text sorted; declared numbers make its −1 no label, as in a column of numbers:
        :func:`column_unlabelled`); labels that are non-integer numbers are refused unless
        the column is categorical (:func:`check_classes`); at least two labelled levels are
        needed, and an
        ``unlabeled`` category must name entries of the column or a level its categorical
        dtype ``declared`` (unless it spells "unknown" or missing, as :data:`UNLABELLED`
        does)."""
        values = _column(obs, key, source)
        _check_unlabeled_found(values, key, source, unlabeled, declared)
        numbers = values.dtype.kind in "iuf" or declares_numbers(declared)
        missing = column_unlabelled(values, unlabeled, (), numbers)
        if not declared:  # a categorical's declared categories are classes, 0.5 too
            check_classes(values, missing, f"{source}: label column {key!r}")
        known = values[~missing]
        levels = class_order(level_text(known), tuple(level_text(declared)))
        _check_distinct(levels, key, source)
        if len(levels) < 2:
            raise DataError(
                f"{source}: label column {key!r} has {len(levels)} labelled level(s) "
                f"({', '.join(levels) or 'none'}); a semi-supervised model needs at least two"
                + _minus_one_hint(values, unlabeled, numbers)
            )
        name = None if unlabeled is None else whole_number_text(str(level_text([unlabeled])[0]))
        return cls(key, levels, name, numbers)

    def missing(self, values: np.ndarray) -> np.ndarray:
        """True where a label of this spec's column is no label (:func:`column_unlabelled`)."""
        return column_unlabelled(values, self.unlabeled, self.levels, self.numbers)

    def encode(
        self, obs: dict[str, np.ndarray], source: str = "data", unseen: int | None = None
    ) -> torch.Tensor:
        """(n,) int64 codes into ``levels``, −1 for unlabelled records; a level not among
        ``levels`` is an error, or coded ``unseen`` when given (e.g. −2, to count such records
        apart from unlabelled ones)."""
        values = _column(obs, self.key, source)
        missing = self.missing(values)
        index = aliases(self.levels)
        codes = np.full(len(values), -1, dtype=np.int64)
        texts = level_text(values)
        for i in np.flatnonzero(~missing):
            text = texts[i]
            if text not in index and unseen is not None:
                codes[i] = unseen
            elif text not in index:
                raise DataError(
                    f"{source}: label {text!r} of record {i + 1} in column {self.key!r} was not "
                    f"seen in training (known: {', '.join(self.levels)}); map it to a known "
                    "level or mark it unknown"
                )
            else:
                codes[i] = index[text]
        return torch.from_numpy(codes)


def _minus_one_hint(values: np.ndarray, unlabeled: Any, numbers: bool) -> str:
    """The fix when a column of numbers' −1 was taken as no label (a −1/+1 column)."""
    own = column_unlabelled(values, unlabeled, (), numbers)
    if not (own & ~unlabelled_mask(values, unlabeled)).any():
        return ""
    return (
        " (its -1 entries are unlabelled, as in a column of numbers; to train -1 as a class, "
        "name the column's unlabelled marker with --unlabeled-category (unlabeled_category), "
        "e.g. 'unknown')"
    )


def _check_distinct(levels: tuple[str, ...], key: str, source: str) -> None:
    """Levels that differ only in letter case or surrounding spaces are almost always one label
    typed twice; training them as two classes splits that label's cells (and their
    probability) silently, so they are refused."""
    clash = one_spelling_clash(levels)
    if clash:
        raise DataError(
            f"{source}: labels {clash[0]!r} and {clash[1]!r} in column {key!r} differ only in "
            "letter case or surrounding spaces; spell each label one way"
        )


def _column(obs: dict[str, np.ndarray], key: str | None, source: str) -> np.ndarray:
    if key is None or key not in obs:
        avail = ", ".join(sorted(obs)[:20]) or "none"
        raise DataError(
            f"{source}: label column {key!r} not found (metadata columns: {avail}); "
            "check --labels-key (labels_key); in a table, a numeric column is a feature unless "
            "--metadata-columns (metadata_columns) lists it"
        )
    return np.asarray(obs[key])
