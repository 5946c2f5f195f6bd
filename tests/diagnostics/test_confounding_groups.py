"""Grouped folds of the confounding audit: several records per subject must not leak the subject
into both the training and the test folds."""

from __future__ import annotations

import numpy as np
import pytest

from biovae.diagnostics.confounding import audit
from biovae.diagnostics.confounding_groups import (
    grouped_classifier_folds,
    grouped_regressor_folds,
)
from biovae.errors import DataError


def subjects(n_subjects: int = 40, per: int = 4, k: int = 40, seed: int = 0):
    """Records of subjects: z is the subject's own random offset plus small noise, and the
    covariates (a status and an age) are constant within a subject and drawn independently
    of the offsets, so z carries no covariate signal beyond the identity of the subject."""
    rng = np.random.default_rng(seed)
    subject = np.repeat([f"s{i}" for i in range(n_subjects)], per).astype(object)
    status = np.repeat(np.where(np.arange(n_subjects) % 2 == 0, "case", "control"), per)
    age = np.repeat(rng.uniform(20, 80, n_subjects), per)
    offsets = np.repeat(rng.normal(0.0, 3.0, (n_subjects, k)), per, axis=0)
    z = offsets + rng.normal(0.0, 0.3, (n_subjects * per, k))
    return z, subject, status.astype(object), age


def test_grouped_folds_bring_a_subject_linked_covariate_back_to_chance():
    z, subject, status, age = subjects()
    cols = {"status": status, "age": age}
    record_wise = audit(z, cols, continuous=["age"])["covariates"]
    grouped = audit(z, cols, continuous=["age"], groups=subject, group_name="subject")
    # record-wise folds recognise each test record's subject from its other records (40 subject
    # offsets in 40 dimensions are linearly separable) and so "predict" the status and the age
    assert record_wise["status"]["balanced_accuracy"] > 0.9
    assert record_wise["age"]["r2"] > 0.6
    # grouped folds test on unseen subjects, whose offsets say nothing: chance is 0.5 and R² ≤ 0
    # (over seeds 0-9 the grouped accuracy stayed in 0.42-0.57, the R² below -0.6)
    r = grouped["covariates"]
    assert abs(r["status"]["balanced_accuracy"] - 0.5) < 0.2 and r["age"]["r2"] < 0.2
    assert grouped["grouped_by"] == "subject" and grouped["groups"] == 40
    assert r["status"]["groups"] == r["age"]["groups"] == 40


def test_folds_keep_each_group_together_and_follow_the_seed():
    rng = np.random.default_rng(3)
    groups = np.repeat([f"g{i}" for i in range(30)], rng.integers(1, 6, 30))
    labels = np.where(rng.random(groups.size) < 0.5, "a", "b")  # groups span both levels
    folds, splits = grouped_classifier_folds(labels, groups, 5, seed=0, name="subject")
    again = grouped_classifier_folds(labels, groups, 5, seed=0, name="subject")[1]
    other = grouped_classifier_folds(labels, groups, 5, seed=1, name="subject")[1]
    assert folds == 5 and len(splits) == 5
    tests = np.concatenate([test for _, test in splits])
    assert np.array_equal(np.sort(tests), np.arange(groups.size))  # a partition of the records
    for train, test in splits:
        assert not set(groups[train]) & set(groups[test])
    assert all(np.array_equal(a[1], b[1]) for a, b in zip(splits, again))
    assert not all(np.array_equal(a[1], b[1]) for a, b in zip(splits, other))
    cv, relabelled = grouped_regressor_folds(groups, 5, seed=0, name="subject")
    for train, test in cv.split(np.zeros((groups.size, 1)), groups=relabelled):
        assert not set(groups[train]) & set(groups[test])
    pairs = set(zip(groups, relabelled))  # a relabelling: one new label per group and back
    assert len(pairs) == len(set(groups)) == len(set(relabelled))


def test_without_groups_the_audit_is_the_record_wise_cross_validation():
    """No group column: exactly scikit-learn's shuffled stratified / plain k-fold, as before."""
    from sklearn.linear_model import LogisticRegression, RidgeCV
    from sklearn.metrics import balanced_accuracy_score, r2_score, roc_auc_score
    from sklearn.model_selection import KFold, StratifiedKFold, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    z, _, status, age = subjects(n_subjects=30, per=3, k=6, seed=4)
    out = audit(z, {"status": status, "age": age}, continuous=["age"], seed=7)
    assert "grouped_by" not in out and "groups" not in out["covariates"]["status"]
    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    cv = StratifiedKFold(5, shuffle=True, random_state=7)
    proba = cross_val_predict(clf, z, status.astype(str), cv=cv, method="predict_proba")
    levels = np.array(["case", "control"])
    r = out["covariates"]["status"]
    assert r["balanced_accuracy"] == balanced_accuracy_score(
        status.astype(str), levels[proba.argmax(1)]
    )
    assert r["auroc"] == roc_auc_score(status == "control", proba[:, 1])
    reg = make_pipeline(StandardScaler(), RidgeCV(alphas=np.logspace(-3, 3, 13)))
    pred = cross_val_predict(reg, z, age, cv=KFold(5, shuffle=True, random_state=7))
    assert out["covariates"]["age"]["r2"] == r2_score(age, pred)


def test_bad_groups_are_refused_in_one_line():
    z, subject, status, _ = subjects(n_subjects=12, per=3, k=4)
    cols = {"status": status}
    missing = subject.copy()
    missing[[4, 7]] = "NA"
    with pytest.raises(DataError, match=r"'subject' is missing for 2 record\(s\), the first "
                       r"record 5 \(counting from 1\)"):  # fmt: skip
        audit(z, cols, groups=missing, group_name="subject")
    few = np.repeat(["p", "q", "r", "s"], 9)
    with pytest.raises(DataError, match=r"holds 4 group\(s\), fewer than the 5 .*at most 4 folds"):
        audit(z, cols, groups=few, group_name="subject")
    out = audit(z, cols, groups=few, group_name="subject", n_splits=2)  # fewer folds: fine
    assert out["groups"] == 4 and out["covariates"]["status"]["folds"] == 2
    lonely = subject.copy()
    lonely[status == "case"] = "s0"  # every case from one subject
    with pytest.raises(DataError, match="level 'case' lies in a single group of 'subject'"):
        audit(z, cols, groups=lonely, group_name="subject")
    with pytest.raises(DataError, match="has shape"):
        audit(z, cols, groups=subject[:-1], group_name="subject")


def test_a_group_spanning_levels_is_allowed_and_counted():
    rng = np.random.default_rng(5)
    z = rng.normal(size=(80, 3))
    subject = np.repeat([f"s{i}" for i in range(20)], 4)
    visit = np.tile(["before", "after"], 40).astype(object)  # every subject holds both levels
    out = audit(z, {"visit": visit}, groups=subject, group_name="subject")
    r = out["covariates"]["visit"]
    assert r["groups"] == 20 and r["folds"] == 5 and abs(r["balanced_accuracy"] - 0.5) < 0.2
