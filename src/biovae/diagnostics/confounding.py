"""Confounding audit: which covariates can be read off a model's latent map, and where.

An unsupervised VAE organises its map by whatever explains most variance, which in pooled
studies is often the technical batch. The audit asks, for each covariate column, how well a
simple classifier predicts it from the posterior means E_q[z|x]:

* skill: stratified k-fold cross-validated balanced accuracy (chance = 1 / levels) and AUROC
  (binary: ROC AUC; more levels: macro one-vs-rest) of a standardised, L2-regularised
  logistic regression; continuous covariates get the cross-validated R² of standardised
  ridge regression;
* attribution: for each latent dimension alone, the univariate AUROC symmetrised around 0.5
  (max(A, 1 − A), macro over one-vs-rest levels) or |Spearman ρ| for continuous covariates;
  a dimension *carries* the covariate when that effect reaches its threshold and is beyond
  chance: Kruskal–Wallis (the Mann–Whitney test for two levels) or Spearman p-value below
  0.05 / k, Bonferroni over the k dimensions (with a rare level an AUROC of 0.65 alone is
  chance: for 5 of 150 records a quarter of pure-noise dimensions reach it); with groups
  (subjects) the p-values are those of the group means, each subject counted once
  (:mod:`biovae.diagnostics.confounding_dimensions`);
* uncertainty: the standard error of each skill (balanced accuracy: each level's recall a
  binomial proportion; R²: the delta method on the squared errors);
* verdict (:mod:`biovae.diagnostics.confounding_verdict`): the *technical* covariate dominates
  the *biological* one when its chance-corrected balanced accuracy κ = (BA − 1/L)/(1 − 1/L)
  exceeds the biological κ by ``margin`` and by twice the standard error of the difference,
  and the two are not confounded (every level of one holding a single level of the other).

Which covariates are levels and which numbers, and which values are missing:
:mod:`biovae.diagnostics.confounding_columns`. Functions take plain arrays (latent means and
covariate columns) so the audit works for any model of any modality. scikit-learn is
imported lazily (``pip install biovae[report]``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from biovae.diagnostics.confounding_columns import (
    as_numbers,
    audited_as,
    check_numbers,
    is_categorical_column,
    is_missing,
)
from biovae.diagnostics.confounding_dimensions import dimension_p_values
from biovae.diagnostics.confounding_groups import (
    check_group_count,
    group_labels,
    grouped_classifier_folds,
    grouped_regressor_folds,
)
from biovae.diagnostics.confounding_verdict import verdict
from biovae.errors import ConfigError, DataError, require
from biovae.levels import level_text

#: A dimension "carries" a covariate when its univariate symmetric AUROC reaches this ...
CARRY_AUROC = 0.65
#: ... and its test against no association has a p-value below this over the dimensions.
CARRY_ALPHA = 0.05
#: A dimension "carries" a continuous covariate when |Spearman ρ| reaches this.
CARRY_RHO = 0.3


def _sklearn(n_splits: int, seed: int) -> None:
    """scikit-learn, and a fold count and seed it can cross-validate with."""
    if n_splits < 2:
        raise ConfigError(f"n_splits must be >= 2 (cross-validation folds), got {n_splits}")
    if not (isinstance(seed, int | np.integer) and 0 <= seed < 2**32):
        raise ConfigError(f"seed must be a whole number from 0 to 2**32 - 1, got {seed!r}")
    require("sklearn", "report")


def symmetric_auroc(score: np.ndarray, positive: np.ndarray) -> float:
    """max(A, 1 − A) of the ROC AUC of ``score`` for the boolean labels ``positive``."""
    from sklearn.metrics import roc_auc_score

    auc = float(roc_auc_score(positive, score))
    return max(auc, 1.0 - auc)


def dimension_attribution(z: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Per latent dimension: symmetric AUROC, macro over one-vs-rest levels, shape (k,)."""
    levels = np.unique(labels)
    pairs = [levels[1:]] if len(levels) == 2 else [levels]
    out = np.zeros(z.shape[1])
    for k in range(z.shape[1]):
        aucs = [symmetric_auroc(z[:, k], labels == lv) for lv in pairs[0]]
        out[k] = float(np.mean(aucs))
    return out


def _audited(name: str, z: np.ndarray, values: Any, categorical: bool | None, **folds) -> dict:
    """:func:`audit_covariate`, its data errors naming the covariate and the way out."""
    try:
        return audit_covariate(z, values, categorical=categorical, **folds)
    except DataError as exc:
        raise DataError(f"covariate {name!r}: {exc}; leave it out of the audit") from exc


def categorical_predictability(
    z: np.ndarray,
    labels: np.ndarray,
    n_splits: int = 5,
    seed: int = 0,
    groups: np.ndarray | None = None,
    group_name: str = "group",
) -> dict[str, Any]:
    """Cross-validated balanced accuracy and AUROC of predicting ``labels`` from ``z``; with
    ``groups`` (one label per record) each group's records lie in one fold
    (:mod:`~biovae.diagnostics.confounding_groups`)."""
    _sklearn(n_splits, seed)
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import balanced_accuracy_score, roc_auc_score
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    labels = np.asarray([str(v) for v in labels])
    levels, counts = np.unique(labels, return_counts=True)
    if len(levels) == 0:
        raise DataError("it has no values (all missing)")
    if len(levels) < 2:
        raise DataError(f"it has a single level ({str(levels[0])!r}); nothing to predict")
    folds = int(min(n_splits, counts.min()))
    if folds < 2:
        rare = str(levels[np.argmin(counts)])
        raise DataError(f"level {rare!r} has a single record; cross-validation needs at least two")
    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    if groups is None:
        cv = StratifiedKFold(folds, shuffle=True, random_state=seed)
    else:
        folds, cv = grouped_classifier_folds(labels, np.asarray(groups), folds, seed, group_name)
    proba = cross_val_predict(clf, z, labels, cv=cv, method="predict_proba")
    predicted = levels[proba.argmax(1)]
    if len(levels) == 2:
        auroc = float(roc_auc_score(labels == levels[1], proba[:, 1]))
    else:
        auroc = float(roc_auc_score(labels, proba, multi_class="ovr", average="macro"))
    bal = float(balanced_accuracy_score(labels, predicted))
    bal_se = balanced_accuracy_se(labels, predicted)
    chance = 1.0 / len(levels)
    return {
        "kind": "categorical",
        "levels": [str(v) for v in levels],
        "counts": [int(c) for c in counts],
        "folds": folds,
        "balanced_accuracy": bal,
        "balanced_accuracy_se": bal_se,
        "chance": chance,
        "kappa": (bal - chance) / (1.0 - chance),
        "kappa_se": bal_se / (1.0 - chance),
        "auroc": auroc,
    }


def continuous_predictability(
    z: np.ndarray,
    values: np.ndarray,
    n_splits: int = 5,
    seed: int = 0,
    groups: np.ndarray | None = None,
    group_name: str = "group",
) -> dict[str, Any]:
    """Cross-validated R² of ridge regression of ``values`` on the standardised ``z`` (scaled
    within each training fold, as for the categories: the penalty must not depend on the
    units of the code — an autoencoder's or PCA's can be of any scale); with ``groups`` each
    group's records lie in one fold (:mod:`~biovae.diagnostics.confounding_groups`)."""
    _sklearn(n_splits, seed)
    from sklearn.linear_model import RidgeCV
    from sklearn.metrics import r2_score
    from sklearn.model_selection import KFold, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    y = np.asarray(values, dtype=np.float64)
    if np.unique(y).size < 2:
        raise DataError(f"it has a single value ({level_text(y[:1])[0]}); nothing to predict")
    if groups is None:
        cv = KFold(min(n_splits, len(y)), shuffle=True, random_state=seed)
    else:
        cv, groups = grouped_regressor_folds(np.asarray(groups), n_splits, seed, group_name)
    reg = make_pipeline(StandardScaler(), RidgeCV(alphas=np.logspace(-3, 3, 13)))
    pred = cross_val_predict(reg, z, y, cv=cv, groups=groups)
    # R² = 1 − mean(e²)/var(y): its standard error by the delta method on the squared errors
    r2_se = float(np.std((y - pred) ** 2) / np.sqrt(len(y)) / max(np.var(y), 1e-300))
    return {
        "kind": "continuous",
        "r2": float(r2_score(y, pred)),
        "r2_se": r2_se,
        "folds": cv.n_splits,
    }


def balanced_accuracy_se(labels: np.ndarray, predicted: np.ndarray) -> float:
    """Standard error of the balanced accuracy: the mean over L levels of recalls, each a
    binomial proportion, SE = √(Σ p(1 − p)/n) / L with a pseudo-count per outcome
    (p = (hits + 1)/(n + 2)), so that a recall of 0 or 1 on few records is not certain."""
    levels = np.unique(labels)
    n = np.asarray([(labels == lv).sum() for lv in levels], dtype=np.float64)
    hits = np.asarray([(predicted[labels == lv] == lv).sum() for lv in levels])
    p = (hits + 1.0) / (n + 2.0)
    return float(np.sqrt(np.sum(p * (1.0 - p) / (n + 2.0))) / len(levels))


def _single_record_levels(labels: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Mask of the records whose level is seen once (no fold could both train and test on
    them) and those levels; an error when fewer than two levels would remain."""
    levels, counts = np.unique(labels, return_counts=True)
    rare = levels[counts == 1]
    if rare.size and (counts > 1).sum() < 2:
        kept = ", ".join(repr(str(v)) for v in levels[counts > 1]) or "none"
        raise DataError(
            f"fewer than two of its levels have more than one record ({kept}; {rare.size} "
            "with one record each); nothing to cross-validate"
        )
    return np.isin(labels, rare), [str(v) for v in rare]


def audit_covariate(
    z: np.ndarray,
    values: np.ndarray,
    n_splits: int = 5,
    seed: int = 0,
    categorical: bool | None = None,
    *,
    groups: np.ndarray | None = None,
    group_name: str = "group",
) -> dict[str, Any]:
    """Skill and per-dimension attribution of one covariate (records with it missing dropped,
    and those of a level seen once, listed in ``rare_levels``); ``categorical`` True: as levels,
    False: as a number, None: decided by :func:`is_categorical_column`; ``groups`` (a label
    per record, e.g. the subject, named ``group_name``): folds keep each group's records
    together, the per-dimension p-values (``attribution_p``) are those of the group means
    (:mod:`~biovae.diagnostics.confounding_dimensions`; ``attribution_n`` of them), and the
    result counts the ``groups`` of the records audited."""
    from scipy.stats import spearmanr

    values = as_numbers(values)
    keep = ~is_missing(values)
    if not keep.any():
        raise DataError(f"it has no values (all {keep.size} missing)")
    zk, vk = np.asarray(z, dtype=np.float64)[keep], np.asarray(values)[keep]
    gk = None if groups is None else group_labels(groups, group_name, keep.size)[keep]
    grouping = {"groups": gk, "group_name": group_name}
    rare: list[str] = []
    if is_categorical_column(vk) if categorical is None else categorical:
        labels = np.asarray(list(level_text(vk)), dtype=str)
        once, rare = _single_record_levels(labels)
        keep[np.flatnonzero(keep)[once]] = False
        zk, labels = zk[~once], labels[~once]
        grouping["groups"] = None if gk is None else gk[~once]
        result = categorical_predictability(zk, labels, n_splits, seed, **grouping)
        attribution, threshold = dimension_attribution(zk, labels), CARRY_AUROC
        p, units = dimension_p_values(zk, labels, True, grouping["groups"])
    else:
        check_numbers(vk)
        result = continuous_predictability(zk, vk, n_splits, seed, **grouping)
        tests = [spearmanr(zk[:, k], vk) for k in range(zk.shape[1])]
        attribution = np.nan_to_num(np.asarray([abs(float(t.statistic)) for t in tests]))
        threshold, (p, units) = CARRY_RHO, dimension_p_values(zk, vk, False, gk)
    if grouping["groups"] is not None:
        result["groups"] = int(np.unique(grouping["groups"]).size)
        result["attribution_n"] = units
    p = np.nan_to_num(np.asarray(p, dtype=np.float64), nan=1.0)
    beyond_chance = p < CARRY_ALPHA / max(len(p), 1)
    order = np.argsort(-attribution)
    result.update(
        records=int(keep.sum()),
        missing=int((~keep).sum()) - len(rare),
        rare_levels=rare,
        attribution=[float(a) for a in attribution],
        attribution_p=[float(v) for v in p],
        carrying_dimensions=[
            int(k) for k in order if attribution[k] >= threshold and beyond_chance[k]
        ],
    )
    return result


def audit(
    z: np.ndarray,
    covariates: Mapping[str, np.ndarray],
    technical: Sequence[str] = (),
    biological: Sequence[str] = (),
    *,
    margin: float = 0.1,
    n_splits: int = 5,
    seed: int = 0,
    categorical: Sequence[str] = (),
    continuous: Sequence[str] = (),
    groups: np.ndarray | None = None,
    group_name: str = "group",
) -> dict[str, Any]:
    """Audit every covariate and, given technical and biological ones, a verdict.

    Parameters
    ----------
    z
        (n, k) posterior means.
    covariates
        Column name → (n,) values (text or numbers; missing values are skipped).
    technical, biological
        Names among ``covariates`` (e.g. ``studyID`` and ``study_condition``).
    margin
        How much larger the technical κ must be for the verdict "technical dominates" (and
        larger than twice the standard error of the difference).
    categorical
        Names audited as categorical whatever their values (and technical covariates coded by
        whole numbers, unless named ``continuous``: a batch coded 0..11 is 12 batches, not a
        number); others are categorical when text or numbers with few distinct values
        (:mod:`~biovae.diagnostics.confounding_columns`).
    continuous
        Names audited as numbers (cross-validated R²) whatever the guess: an integer age of
        1,000 records takes 42 values, few enough to be guessed levels.
    groups, group_name
        (n,) group of each record (subject, donor, patient; named ``group_name`` in messages
        and in the result's ``grouped_by``): the cross-validation folds keep all records of a
        group in one fold, so that a covariate constant within a subject is not predicted by
        recognising the subject (:mod:`~biovae.diagnostics.confounding_groups`), and the
        per-dimension tests compare group means, not records. None: record-wise folds and
        record-level tests. No group may be missing, and there must be at least ``n_splits``.
    """
    z = np.asarray(z, dtype=np.float64)
    if z.ndim != 2 or not np.isfinite(z).all():
        raise DataError(f"latent means must be a finite (records, latent) array, got {z.shape}")
    for name in (*technical, *biological, *categorical, *continuous):
        if name not in covariates:
            raise DataError(f"covariate {name!r} is not among the audited: {', '.join(covariates)}")
    twice = sorted(set(categorical) & set(continuous))
    if twice:
        raise DataError(
            f"covariate {twice[0]!r} is named both categorical and continuous; pick one"
        )
    both = sorted(set(technical) & set(biological))
    if both:
        raise DataError(f"covariate {both[0]!r} is named both technical and biological; pick one")
    covariates = {name: as_numbers(v) for name, v in covariates.items()}
    for name, v in covariates.items():
        if v.shape != (z.shape[0],):
            raise DataError(
                f"covariate {name!r} has shape {v.shape}, but the latent means hold "
                f"{z.shape[0]} records; give one value per record, in the order of z"
            )
    for name in continuous:
        check_numbers(covariates[name], name)
    out: dict[str, Any] = {"records": int(z.shape[0]), "latent": int(z.shape[1])}
    folds: dict[str, Any] = {"n_splits": n_splits, "seed": seed}
    if groups is not None:
        _sklearn(n_splits, seed)
        labels = group_labels(groups, group_name, z.shape[0])
        out.update(grouped_by=group_name, groups=check_group_count(labels, n_splits, group_name))
        folds.update(groups=labels, group_name=group_name)
    results = {
        name: _audited(name, z, v, audited_as(name, v, technical, categorical, continuous), **folds)
        for name, v in covariates.items()
    }
    out["covariates"] = results
    if technical and biological:
        confounded = {
            (t, b): nested_levels(t, covariates[t], b, covariates[b])
            for t in technical
            for b in biological
            if results[t]["kind"] == results[b]["kind"] == "categorical"
        }
        out["verdict"] = verdict(results, technical, biological, margin, confounded)
    return out


def nested_levels(a_name: str, a: np.ndarray, b_name: str, b: np.ndarray) -> str | None:
    """``"every <a> level holds a single <b> level"`` (or the other way round) when the
    levels of two categorical covariates nest over the records where both are given, else
    None."""
    keep = ~is_missing(a) & ~is_missing(b)
    if not keep.any():
        return None
    ta, tb = level_text(np.asarray(a)[keep]), level_text(np.asarray(b)[keep])
    pairs = len(set(zip(ta, tb)))
    if pairs == len(set(ta)):
        return f"every {a_name} level holds a single {b_name} level"
    if pairs == len(set(tb)):
        return f"every {b_name} level holds a single {a_name} level"
    return None
