"""Grouped cross-validation folds for the confounding audit.

Records are not always independent: several samples of one subject (a microbiome time
course), cells or pseudobulk profiles of one donor. Record-wise folds then put records of the
same subject in the training and the test folds, and anything constant within a subject (its
study, sex, diagnosis) is "predicted" from the map by recognising the subject, not by any
signal of the covariate. Grouped folds keep all records of a group in one fold, so a covariate
is predicted only as far as the map carries it across subjects:

* categories: scikit-learn's ``StratifiedGroupKFold`` (shuffled by the seed), with as many
  folds as asked but no more than the fewest groups holding a level (as record-wise folds are
  no more than the fewest records of a level);
* numbers: ``GroupKFold`` (groups of balanced sizes per fold) on the groups relabelled by a
  seeded permutation, so the seed chooses among the balanced partitions, in every
  scikit-learn version since 1.3 alike.

A group may span several levels of the covariate audited (a subject sampled before and after
treatment); that is allowed, and the number of groups is reported. The per-dimension tests
are pseudo-replicated in the same way (5 records of 30 subjects are not 150 observations),
so with groups they compare group means (:func:`group_means`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from biovae.diagnostics.confounding_columns import is_missing
from biovae.errors import DataError
from biovae.levels import level_text


def group_labels(
    values: Any, name: str, records: int, ids: Any = None, where: str = ""
) -> np.ndarray:
    """The group column ``name`` as text labels, one per each of ``records`` records; a
    one-line DataError when a record has no group (``ids`` name the record, else its position
    counting from 1; ``where`` prefixes the message, e.g. the file)."""
    v = np.asarray(values)
    if v.shape != (records,):
        raise DataError(
            f"{where}group column {name!r} has shape {v.shape}, but there are {records} "
            "records; give one group per record, in the order of the latent means"
        )
    missing = is_missing(v)
    if missing.any():
        first = int(np.argmax(missing))
        record = f"{ids[first]!r}" if ids is not None else f"{first + 1} (counting from 1)"
        raise DataError(
            f"{where}group column {name!r} is missing for {int(missing.sum())} record(s), the "
            f"first record {record}; give every record its group (subject, donor) or drop "
            "those records"
        )
    return np.asarray(list(level_text(v)), dtype=str)


def check_group_count(groups: np.ndarray, n_splits: int, name: str, where: str = "") -> int:
    """The number of groups; a DataError when there are fewer than the folds asked for."""
    n = int(np.unique(groups).size)
    if n < n_splits:
        raise DataError(
            f"{where}group column {name!r} holds {n} group(s), fewer than the {n_splits} "
            f"cross-validation folds (each fold needs a group of its own); give at most {n} "
            "folds (--folds, n_splits) or audit more groups"
        )
    return n


def grouped_classifier_folds(
    labels: np.ndarray, groups: np.ndarray, folds: int, seed: int, name: str
) -> tuple[int, list[tuple[np.ndarray, np.ndarray]]]:
    """Folds (train, test) of ``StratifiedGroupKFold`` keeping each group in one fold: at most
    ``folds``, and at most the fewest groups holding a level; a DataError when a level lies in
    a single group (no fold could both train and test on it) or is absent from a training set."""
    from sklearn.model_selection import StratifiedGroupKFold

    levels = np.unique(labels)
    per_level = np.asarray([np.unique(groups[labels == lv]).size for lv in levels])
    least = int(np.argmin(per_level))
    if per_level[least] < 2:
        raise DataError(
            f"level {str(levels[least])!r} lies in a single group of {name!r}; grouped "
            "cross-validation needs each level in at least two groups"
        )
    folds = int(min(folds, per_level.min()))
    cv = StratifiedGroupKFold(folds, shuffle=True, random_state=seed)
    splits = list(cv.split(np.zeros((labels.size, 1)), labels, groups))
    for train, _ in splits:
        absent = np.setdiff1d(levels, labels[train])
        if absent.size:
            raise DataError(
                f"level {str(absent[0])!r} is absent from a training fold grouped by {name!r} "
                "(its groups fell into one fold); give fewer folds"
            )
    return folds, splits


def grouped_regressor_folds(
    groups: np.ndarray, n_splits: int, seed: int, name: str
) -> tuple[Any, np.ndarray]:
    """``GroupKFold`` and the groups relabelled by a permutation drawn from ``seed``."""
    from sklearn.model_selection import GroupKFold

    names, codes = np.unique(groups, return_inverse=True)
    check_group_count(groups, n_splits, name)
    relabelled = np.random.default_rng(seed).permutation(names.size)[codes]
    return GroupKFold(n_splits), relabelled


def grouping_text(result: dict[str, Any]) -> str:
    """How an audit's folds were drawn, as the page and the command line state it ("" when
    record-wise)."""
    name = result.get("grouped_by")
    if name is None:
        return ""
    return (
        f"Cross-validation folds grouped by {name!r}: all records of a group lie in one fold "
        f"({result['groups']} groups); the per-dimension tests (carried by) compare group "
        "means, one per group (and per level a group spans), not records"
    )


def group_means(
    z: np.ndarray, values: np.ndarray, groups: np.ndarray, categorical: bool
) -> tuple[np.ndarray, np.ndarray]:
    """The units the per-dimension tests compare when records are grouped: the mean of each
    latent dimension over the records of a group and the group's value — for a number the
    group's mean value; for levels one unit per group and level it holds (a subject sampled
    before and after treatment gives one mean of each), so a group of one level is one unit.
    Records of one subject are not independent; testing their means counts each group once.
    Returns the (units, k) means and the (units,) values."""
    _, g = np.unique(groups, return_inverse=True)
    if categorical:
        levels, lv = np.unique(values, return_inverse=True)
        cells, units = np.unique(g * levels.size + lv, return_inverse=True)
        unit_values = levels[cells % levels.size]
    else:
        units = g
    n = np.bincount(units).astype(np.float64)
    means = np.zeros((n.size, z.shape[1]))
    np.add.at(means, units, z)
    means /= n[:, None]
    if not categorical:
        unit_values = np.bincount(units, weights=np.asarray(values, dtype=np.float64)) / n
    return means, unit_values
