"""scikit-learn's own estimator checks (``parametrize_with_checks``) on the four estimators.

Settings that make it fast (about 150 fits per neural estimator): ``hidden=(4,)``, ``epochs=1``
and a small ``n_latent`` (PCA: 1, as scikit-learn's checks fit data of two features). The
checks that do not apply are listed, with the reason, as expected failures.
"""

from __future__ import annotations

import inspect
import warnings

import numpy as np
import pytest

import biovae

sklearn = pytest.importorskip("sklearn")
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

if "expected_failed_checks" not in inspect.signature(parametrize_with_checks).parameters:
    pytest.skip("scikit-learn < 1.6 has no expected_failed_checks", allow_module_level=True)

ESTIMATORS = [
    biovae.PCA(n_latent=1),
    biovae.VAE(n_latent=2, hidden=(4,), epochs=1, seed=0),
    biovae.Autoencoder(n_latent=2, hidden=(4,), epochs=1, seed=0),
    biovae.SemiSupervisedVAE(n_latent=2, hidden=(4,), epochs=1, seed=0),
]

_WORDING = (
    "a ValueError (biovae's DataError) is raised, as the check asks, but worded in biovae's "
    "one-line style (what, where, the fix) rather than in scikit-learn's words"
)
#: Checks that fail for every estimator, by design.
_ALL = {
    "check_fit_score_takes_y": (
        "fit's (and fit_transform's) second argument is obs, the records' metadata (covariates, "
        "labels); an array or list there is taken as scikit-learn's y, and y= is accepted by "
        "keyword (score's second argument is y)"
    ),
    "check_n_features_in_after_fitting": _WORDING,
    "check_complex_data": _WORDING,
    "check_estimators_empty_data_messages": _WORDING,
    "check_fit2d_1sample": _WORDING,
    "check_fit2d_predict1d": _WORDING,
    "check_dtype_object": (
        "a non-number in an object array is a DataError (a ValueError naming X and the fix), "
        "not numpy's TypeError"
    ),
}
#: Checks that fail for the neural estimators (trained by minibatch SGD, float32).
_NEURAL = {
    "check_sample_weight_equivalence_on_dense_data": (
        "minibatch SGD: a weight of 2 is not a repeated record (other batches, other steps)"
    ),
    "check_sample_weight_equivalence_on_sparse_data": (
        "minibatch SGD: a weight of 2 is not a repeated record (other batches, other steps)"
    ),
    "check_methods_subset_invariance": (
        "score_samples draws z keyed to each record's id, an array's being its position (a "
        "DataFrame index or AnnData obs_names keeps them); for the autoencoder float32 "
        "round-off differs with the batch size (2e-7 relative)"
    ),
}
_STOCHASTIC = {
    "check_methods_sample_order_invariance": (
        "score_samples draws z keyed to each record's id, an array's being its position: "
        "reordered records get other draws (a DataFrame index or AnnData obs_names keeps them)"
    ),
}
_CLASSIFIER = {
    "check_classifiers_one_label": (
        "a semi-supervised model needs two labelled levels: one is refused with a DataError"
    ),
    "check_classifiers_classes": (
        "-1 is scikit-learn's mark of an unlabelled record, so labels {-1, 1} have one level"
    ),
    "check_classifiers_train": (
        "the accuracy threshold (0.83) needs training; these settings train one epoch"
    ),
    "check_supervised_y_2d": (
        "a column-vector y is raveled without scikit-learn's DataConversionWarning "
        "(biovae does not import scikit-learn)"
    ),
    "check_requires_y_none": _WORDING.replace("DataError", "ConfigError"),
}


def expected_failures(est) -> dict[str, str]:
    """The checks ``est`` is expected to fail, each with its reason."""
    failures = dict(_ALL)
    if not isinstance(est, biovae.PCA):
        failures |= _NEURAL
    if isinstance(est, (biovae.VAE, biovae.SemiSupervisedVAE)):
        failures |= _STOCHASTIC
    if isinstance(est, biovae.SemiSupervisedVAE):
        failures |= _CLASSIFIER
    if isinstance(est, biovae.PCA):
        failures["check_fit2d_1feature"] = (
            "one feature leaves PCA no component (n_latent < min(records, features)): refused "
            "with a ValueError, " + _WORDING.split(", ", 1)[1]
        )
    return failures


with warnings.catch_warnings():  # biovae's estimators follow scikit-learn's conventions
    # without inheriting from its BaseEstimator (scikit-learn is an optional extra)
    warnings.filterwarnings("ignore", "Estimator .* does not inherit", UserWarning)
    _checks = parametrize_with_checks(ESTIMATORS, expected_failed_checks=expected_failures)


@_checks
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


X = np.random.default_rng(0).normal(size=(40, 4))
Y = (X[:, 0] > 0).astype(int)


@pytest.mark.parametrize("est", ESTIMATORS[:3], ids=lambda e: type(e).__name__)
def test_an_unsupervised_fit_takes_y_by_keyword_and_ignores_it(est):
    """``fit(X, y=y)`` (scikit-learn's checks, user code) was a TypeError."""
    from sklearn.base import clone

    fitted = clone(est)
    assert fitted.fit(X, y=Y) is fitted
    np.testing.assert_array_equal(fitted.transform(X), clone(est).fit(X).transform(X))
    np.testing.assert_array_equal(clone(est).fit_transform(X, y=Y), fitted.transform(X))


def test_the_semi_supervised_signature_lists_its_parameters():
    """``__init__(*args, labels_key, **kwargs)`` hid the parameters from scikit-learn."""
    params = inspect.signature(biovae.SemiSupervisedVAE).parameters
    assert tuple(params) == biovae.SemiSupervisedVAE._params
    est = biovae.SemiSupervisedVAE("nb", 3, (8,), 0.5, 2, 1, labels_key="cell")
    assert est.get_params() == {
        "likelihood": "nb", "n_latent": 3, "hidden": (8,), "beta": 0.5, "epochs": 2,
        "seed": 1, "config": None, "progress": False, "labels_key": "cell",
    }  # fmt: skip


def test_the_semi_supervised_vae_is_a_classifier_to_sklearns_scorers_and_folds():
    """It was a transformer only: ``is_classifier`` False, so ``scoring="roc_auc"`` got both
    probability columns and failed, and ``cross_val_score`` did not stratify."""
    from sklearn.base import is_classifier
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold, check_cv, cross_val_score

    est = ESTIMATORS[3]
    assert is_classifier(est)
    assert isinstance(check_cv(2, Y, classifier=is_classifier(est)), StratifiedKFold)
    auc = cross_val_score(est, X, Y, cv=2, scoring="roc_auc", error_score="raise")
    by_hand = []
    for train, test in StratifiedKFold(2).split(X, Y):
        fitted = sklearn.base.clone(est).fit(X[train], Y[train])
        by_hand.append(roc_auc_score(Y[test], fitted.predict_proba(X[test])[:, 1]))
    np.testing.assert_allclose(auc, by_hand)
