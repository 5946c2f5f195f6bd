"""scikit-learn's estimator conventions: clone, set_params, pipelines, n_features_in_."""

from __future__ import annotations

import numpy as np
import pytest

import biovae
from biovae.errors import ConfigError, DataError
from biovae.structure_estimator import ConformationVAE

sklearn = pytest.importorskip("sklearn")

X = np.random.default_rng(0).normal(size=(60, 5))
ESTIMATORS = [
    biovae.PCA(n_latent=2),
    biovae.VAE(n_latent=2, epochs=2, seed=3),
    biovae.Autoencoder(n_latent=2, epochs=2),
    biovae.SemiSupervisedVAE(labels_key="y", epochs=1),
    ConformationVAE(loss="mse"),
]


@pytest.mark.parametrize("est", ESTIMATORS, ids=lambda e: type(e).__name__)
def test_clone_keeps_every_parameter_and_set_params_checks_names(est):
    from sklearn.base import clone

    copy = clone(est)
    assert type(copy) is type(est) and copy.get_params() == est.get_params()
    assert copy.set_params(config=None) is copy
    with pytest.raises(ConfigError, match="unknown parameter 'n_components'"):
        copy.set_params(n_components=3)


@pytest.mark.parametrize("est", ESTIMATORS[:3], ids=lambda e: type(e).__name__)
def test_an_estimator_ends_a_pipeline_and_counts_its_features(est, tmp_path):
    from sklearn.base import clone
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    pipe = make_pipeline(StandardScaler(), clone(est)).fit(X)
    z = pipe.transform(X)
    scaled = StandardScaler().fit_transform(X)
    np.testing.assert_allclose(z, pipe[-1].transform(scaled), rtol=1e-6)
    assert z.shape == (60, 2) and pipe[-1].n_features_in_ == 5
    assert biovae.load_model(pipe[-1].save(tmp_path / "m")).n_features_in_ == 5


@pytest.mark.parametrize("est", ESTIMATORS[:3], ids=lambda e: type(e).__name__)
def test_a_pipeline_fitted_with_y_ignores_it_and_fit_transform_is_fit_then_transform(est):
    from sklearn.base import clone
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    y = (X[:, 0] > 0).astype(int)
    pipe = make_pipeline(clone(est), LogisticRegression()).fit(X, y)  # fit(Xt, y) on each step
    z = clone(est).fit(X).transform(X)
    np.testing.assert_array_equal(pipe[0].transform(X), z)
    np.testing.assert_array_equal(clone(est).fit_transform(X, y), z)
    assert pipe.predict(X).shape == (60,) and pipe[0].score_samples(X).shape == (60,)
    assert pipe[0].score(X, y) == pipe[0].score_samples(X).mean()  # y ignored, as by fit


LABELS = np.where(X[:, 0] > 0, 1, 0)
UNLABELLED = np.arange(60) % 3 == 0  # a third of the records have no label


def _ssvae():
    return biovae.SemiSupervisedVAE(n_latent=2, epochs=1, seed=0)


def test_a_semi_supervised_vae_takes_sklearns_y_with_minus_one_for_unlabelled():
    """fit(X, y) was refused ('obs is a ndarray, but ... reads its labels from obs column'),
    so a Pipeline, cross_val_score or GridSearchCV could not fit one."""
    y = np.where(UNLABELLED, -1, LABELS)
    by_y = _ssvae().fit(X, y)
    # ground truth: the same labels as an obs column, the -1 records marked missing there
    given = np.where(UNLABELLED, None, LABELS.astype(object))
    by_obs = _ssvae().set_params(labels_key="cell").fit(X, {"cell": given})
    np.testing.assert_array_equal(by_y.transform(X), by_obs.transform(X))
    assert tuple(by_y.classes_) == (0, 1) and tuple(by_obs.classes_) == ("0", "1")  # -1 is no class
    assert by_y.predict(X).dtype == np.int64 and by_y.config_.data.labels_key == "y"
    np.testing.assert_array_equal(by_y.predict(X), by_obs.predict(X).astype(int))
    np.testing.assert_array_equal(_ssvae().fit(X, y=y).transform(X), by_y.transform(X))
    np.testing.assert_array_equal(_ssvae().fit_transform(X, y), by_y.transform(X))
    np.testing.assert_array_equal(
        by_y.held_out_labelled(X, y), by_obs.held_out_labelled(X, {"cell": given})
    )


def test_a_semi_supervised_vae_is_a_classifier_for_sklearns_model_selection(tmp_path):
    from sklearn.metrics import accuracy_score
    from sklearn.model_selection import cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    pipe = make_pipeline(StandardScaler(), _ssvae()).fit(X, LABELS)
    assert 0 <= accuracy_score(LABELS, pipe.predict(X)) <= 1  # mixed str/int types raised
    scores = cross_val_score(_ssvae(), X, LABELS, cv=2, scoring="accuracy", error_score="raise")
    assert scores.shape == (2,) and np.isfinite(scores).all()
    loaded = biovae.load_model(pipe[-1].save(tmp_path / "m"))
    assert tuple(loaded.classes_) == (0, 1)
    np.testing.assert_array_equal(
        loaded.predict(StandardScaler().fit_transform(X)), pipe.predict(X)
    )
    floats = LABELS * 2.0 + 1.0  # whole float labels are classes and come back as floats
    assert tuple(_ssvae().fit(X, np.where(UNLABELLED, np.nan, floats)).classes_) == (1.0, 3.0)


def test_text_labels_in_y_are_unlabelled_where_missing_and_stay_text():
    import pandas as pd

    text = np.where(LABELS == 1, "B cell", "T cell").astype(object)
    text[UNLABELLED] = [None, np.nan, "unknown", "-1"] * 5
    est = _ssvae().fit(X, pd.Series(text))
    assert tuple(est.classes_) == ("B cell", "T cell") and est.predict(X).dtype == object


@pytest.mark.parametrize(
    ("obs", "y", "problem"),
    [
        (LABELS, LABELS, "labels given twice: as y and in obs's place"),
        ({"y": LABELS}, LABELS, "labels given twice: as y and as obs column 'y'"),
        (None, np.c_[LABELS, LABELS], r"y has shape \(60, 2\), but .* give one label per record"),
        (None, LABELS[:-1], r"metadata column 'y' has shape \(59,\), expected \(60,\)"),
    ],
    ids=["twice", "obs column too", "2-D", "short"],
)
def test_labels_given_as_y_are_checked(obs, y, problem):
    with pytest.raises(DataError, match=problem):
        _ssvae().fit(X, obs, y=y)


def test_a_semi_supervised_vae_without_labels_says_how_to_give_them():
    with pytest.raises(ConfigError, match=r"labels_key=\.\.\., or the labels as y: fit\(X, y\)"):
        _ssvae().fit(X)


@pytest.mark.parametrize("est", ESTIMATORS, ids=lambda e: type(e).__name__)
def test_an_unfitted_estimator_says_so_and_has_no_fitted_attributes(est):
    from sklearn.base import clone
    from sklearn.exceptions import NotFittedError
    from sklearn.utils.validation import check_is_fitted

    copy = clone(est)
    with pytest.raises(NotFittedError):
        check_is_fitted(copy)
    method = copy.encode if isinstance(copy, ConformationVAE) else copy.transform
    with pytest.raises(ConfigError, match="is not fitted yet; call fit"):
        method(X)
    assert not hasattr(copy, "classes_")  # an AttributeError, as scikit-learn's is


@pytest.mark.parametrize("est", ESTIMATORS, ids=lambda e: type(e).__name__)
def test_sklearns_not_fitted_error_catches_ours(est):
    """``except sklearn.exceptions.NotFittedError`` let biovae's pass: it was no subclass."""
    import pickle

    from sklearn.exceptions import NotFittedError

    copy = sklearn.base.clone(est)
    method = copy.encode if isinstance(copy, ConformationVAE) else copy.transform
    with pytest.raises(NotFittedError) as caught:
        method(X)
    assert isinstance(caught.value, biovae.errors.NotFittedError)  # and still biovae's
    again = pickle.loads(pickle.dumps(caught.value))  # as joblib's workers send it back
    assert isinstance(again, NotFittedError) and again.args == caught.value.args


def test_repr_names_the_parameters_given():
    assert repr(biovae.VAE(likelihood="nb", n_latent=2)) == "VAE(likelihood='nb', n_latent=2)"
    assert repr(biovae.PCA()) == "PCA()"
    ss = biovae.SemiSupervisedVAE(epochs=1, labels_key="y", progress=True)
    assert repr(ss) == "SemiSupervisedVAE(epochs=1, progress=True, labels_key='y')"


@pytest.mark.parametrize(
    ("est", "problem"),
    [
        (biovae.VAE(epochs=1.5), "train.epochs must be an integer, got 1.5"),
        (biovae.VAE(hidden=(8.7,)), "network.hidden must be an integer, got 8.7"),
        (biovae.VAE(hidden=8), "network.hidden must be a list, got 8"),
        (biovae.VAE(seed="a"), "train.seed must be an integer, got 'a'"),
        (biovae.VAE(beta="a"), "objective.beta must be a number, got 'a'"),
        (biovae.Autoencoder(epochs=True), "train.epochs must be an integer, got True"),
        (biovae.PCA(n_latent=1.5), "model.n_latent must be an integer, got 1.5"),
        (biovae.VAE(config={"train": {}}), "config must be a biovae.config.FitConfig, got dict"),
        (biovae.PCA(config="cfg.toml"), "config must be a biovae.config.FitConfig, got str"),
        (ConformationVAE(config={}), "config must be a biovae.config.FitConfig, got dict"),
    ],
    ids=lambda v: v if isinstance(v, str) else type(v).__name__,
)
def test_parameters_are_checked_as_a_config_files_values_are(est, problem):
    """1.5 epochs trained 1 and hidden=(8.7,) 8 units (int() before the config's check), a
    text seed or a dict config failed with a bare ValueError or AttributeError."""
    with pytest.raises(ConfigError, match=problem.replace("(", r"\(").replace(")", r"\)")):
        est.fit(None) if isinstance(est, ConformationVAE) else est.get_config()


@pytest.mark.parametrize("est", ESTIMATORS[:3], ids=lambda e: type(e).__name__)
def test_sklearn_tags_say_what_the_estimators_take_and_give(est):
    """The tags said sparse input is refused (it is taken) and float64 is kept (float32 out)."""
    if not hasattr(sklearn.base.BaseEstimator, "__sklearn_tags__"):
        pytest.skip("scikit-learn < 1.6 has no tags objects")
    import scipy.sparse as sp

    tags = est.__sklearn_tags__()
    assert tags.input_tags.sparse and tags.transformer_tags.preserves_dtype == ["float32"]
    z = sklearn.base.clone(est).fit_transform(sp.csr_matrix(X))
    assert z.dtype == np.float32 and z.shape == (60, 2)


@pytest.mark.parametrize(
    ("w", "problem"),
    [
        (np.zeros(60), "is zero for every record"),
        (np.r_[np.ones(59), -1.0], "is -1 at position 59"),
        (np.r_[np.ones(59), np.nan], "is nan at position 59"),
        (np.ones(59), "has 59 values for 60 records"),
    ],
)
def test_a_bad_sample_weight_is_named(w, problem):
    """All-zero weights were reported as 'must hold 60 ... values (got shape (60,))'."""
    with pytest.raises(DataError, match=f"sample_weight {problem}; give each record a finite"):
        biovae.VAE(epochs=1).fit(X, sample_weight=w)


@pytest.mark.parametrize("est", ESTIMATORS[:4], ids=lambda e: type(e).__name__)
def test_set_output_pandas_gives_named_columns_indexed_like_x_in_a_pipeline(est):
    import pandas as pd
    from sklearn.base import clone
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    cells = [f"cell{i}" for i in range(len(X))]
    df = pd.DataFrame(X, columns=list("abcde"), index=cells).assign(y=["t", "u"] * 30)
    pipe = make_pipeline(StandardScaler(), clone(est)).set_output(transform="pandas")
    obs = df[["y"]] if isinstance(est, biovae.SemiSupervisedVAE) else None
    pipe[:-1].fit(df[list("abcde")])
    z = pipe[-1].fit_transform(pipe[:-1].transform(df[list("abcde")]), obs)
    prefix = type(est).__name__.lower()
    assert isinstance(z, pd.DataFrame) and list(z.index) == cells
    assert list(z.columns) == [f"{prefix}{i}" for i in range(pipe[-1].config_.model.n_latent)]
    assert list(pipe[-1].feature_names_in_) == list("abcde")
    np.testing.assert_array_equal(
        z.to_numpy(),
        pipe[-1]
        .set_output(transform="default")
        .transform(df[list("abcde")].pipe(pipe[:-1].transform)),
    )


def test_feature_names_are_kept_only_for_named_columns_and_input_features_are_checked():
    import pandas as pd

    vae = biovae.PCA(n_latent=2).fit(pd.DataFrame(X, columns=list("abcde")))
    assert list(vae.feature_names_in_) == list("abcde")
    assert list(vae.get_feature_names_out(list("abcde"))) == ["pca0", "pca1"]
    with pytest.raises(ConfigError, match="input_features"):
        vae.get_feature_names_out(list("abcdf"))
    assert not hasattr(vae.fit(X), "feature_names_in_")  # refitted on a bare array
    with pytest.raises(ConfigError, match=r"transform='polars'\) is not supported"):
        vae.set_output(transform="polars")
    with pytest.raises(biovae.errors.NotFittedError):
        biovae.VAE().get_feature_names_out()


def test_an_autoencoder_refuses_beta_as_the_command_line_refuses_beta_for_model_ae():
    with pytest.raises(ConfigError, match=r"beta=4.0 has no effect on an Autoencoder"):
        biovae.Autoencoder(n_latent=2, beta=4.0, epochs=1).fit(X)
    assert biovae.Autoencoder(n_latent=2, epochs=1).get_config().model.kind == "ae"


@pytest.mark.parametrize(
    ("cls", "kwargs", "problem"),
    [
        (biovae.VAE, {"iwae": 0}, r"iwae=0: give a whole number >= 1 of draws"),
        (biovae.VAE, {"iwae": 2.5}, r"iwae=2.5: give a whole number"),
        (biovae.VAE, {"n_samples": 0}, r"n_samples=0: give a whole number"),
        (biovae.VAE, {"n_samples": -3}, r"n_samples=-3: give a whole number"),
        (biovae.VAE, {"n_samples": True}, r"n_samples=True: give a whole number"),
        (biovae.Autoencoder, {"iwae": 5}, r"iwae=5 needs a VAE; a plain autoencoder has no"),
        (biovae.PCA, {"iwae": 5}, r"iwae=5 needs a VAE; a probabilistic PCA has no"),
        (biovae.PCA, {"n_samples": 0}, r"n_samples=0: give a whole number"),
        (biovae.PCA, {"seed": -1}, r"seed must be an integer in 0 \.\. 2\*\*63 - 1, got -1"),
    ],
    ids=lambda v: v.__name__ if isinstance(v, type) else str(v),
)
def test_score_refuses_draw_counts_it_would_not_use_as_given(cls, kwargs, problem):
    """iwae=0 or n_samples=0/-3 scored with one draw, iwae=2.5 was a TypeError from range, and
    an autoencoder's or PCA's iwae=5 returned its deterministic score as if it were IWAE-5
    (``biovae score --iwae`` refuses all of these)."""
    est = cls(n_latent=2) if cls is biovae.PCA else cls(n_latent=2, epochs=1)
    est.fit(X)
    with pytest.raises(ConfigError, match=problem):
        est.score(X, **kwargs)
    assert est.score_samples(X, n_samples=np.int64(2)).shape == (60,)  # numpy ints are whole


@pytest.mark.parametrize("est", ESTIMATORS[:3], ids=lambda e: type(e).__name__)
def test_a_loaded_model_knows_the_feature_names_it_was_fitted_on(est, tmp_path):
    """A model fitted on a DataFrame lost ``feature_names_in_`` when saved and loaded, so
    ``get_feature_names_out`` took any names, though ``transform`` checked them."""
    import pandas as pd
    from sklearn.base import clone

    named = clone(est).fit(pd.DataFrame(X, columns=list("abcde")))
    loaded = biovae.load_model(named.save(tmp_path / "named"))
    assert list(loaded.feature_names_in_) == list("abcde") and loaded.n_features_in_ == 5
    with pytest.raises(ConfigError, match="input_features"):
        loaded.get_feature_names_out(list("abcdf"))
    bare = biovae.load_model(clone(est).fit(X).save(tmp_path / "bare"))
    assert not hasattr(bare, "feature_names_in_") and bare.n_features_in_ == 5
    genes = biovae.data.dataset.Dataset(X, [f"r{i}" for i in range(60)], list("vwxyz"), {})
    assert list(clone(est).fit(genes).feature_names_in_) == list("vwxyz")  # as loaded


def test_the_type_of_the_labels_is_saved_and_checked_on_loading(tmp_path):
    import json

    folder = _ssvae().fit(X, LABELS).save(tmp_path / "m")
    meta = json.loads((folder / "metadata.json").read_text())
    assert meta["label_dtype"] == "int64"
    (folder / "SHA256SUMS").unlink()  # as saved before it was kept: the edit reaches the check
    for bad, error in (("object", DataError), (3, biovae.errors.ModelFileError)):
        (folder / "metadata.json").write_text(json.dumps({**meta, "label_dtype": bad}))
        with pytest.raises(error, match="label_dtype"):
            biovae.load_model(folder)
    del meta["label_dtype"]  # as a model saved before: text levels
    (folder / "metadata.json").write_text(json.dumps(meta))
    assert tuple(biovae.load_model(folder).classes_) == ("0", "1")


@pytest.mark.parametrize("est", ESTIMATORS[:4], ids=lambda e: type(e).__name__)
def test_score_samples_is_per_record_and_passes_through_a_pipeline(est):
    """scikit-learn's per-record log-likelihoods are ``score_samples`` (GaussianMixture, PCA,
    KernelDensity); the estimators had only ``score``, so ``Pipeline.score_samples`` failed."""
    from sklearn.base import clone
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    pipe = make_pipeline(StandardScaler(), clone(est)).fit(X, LABELS)  # y: the SSVAE's labels
    model, scaled = pipe[-1], pipe[0].transform(X)
    per_record = model.score_samples(scaled, n_samples=2, seed=4)
    assert per_record.shape == (60,) and np.isfinite(per_record).all()
    np.testing.assert_array_equal(pipe.score_samples(X), model.score_samples(scaled))
    if isinstance(model, (biovae.VAE, biovae.SemiSupervisedVAE)):  # the draws' seed is passed on
        assert not np.array_equal(model.score_samples(scaled, seed=4), model.score_samples(scaled))
    if not isinstance(model, biovae.SemiSupervisedVAE):  # (its score is accuracy)
        assert model.score(scaled, n_samples=2, seed=4) == per_record.mean()
        assert pipe.score(X) == model.score(scaled)


def test_the_readmes_python_section_documents_score_samples_beside_score():
    from tests.conftest import REPO

    readme = REPO / "README.md"
    if not readme.exists():
        pytest.skip("no README.md beside the tests")
    python = readme.read_text(encoding="utf-8").split("\n## Python\n", 1)[1].split("\n## ", 1)[0]
    assert "vae.score_samples(counts)" in python and "vae.score(counts)" in python


def test_a_nullable_integer_y_with_na_is_integers_as_an_int_y_with_minus_one_is(tmp_path):
    """pandas' ``Int64`` y (pd.NA where unlabelled) reads as floats with NaN in numpy, so its
    classes and predictions came back as floats (0.0, 1.0)."""
    import pandas as pd

    by_int = _ssvae().fit(X, np.where(UNLABELLED, -1, LABELS))
    nullable = pd.array(np.where(UNLABELLED, None, LABELS), dtype="Int64")
    for y in (nullable, pd.Series(nullable)):
        est = _ssvae().fit(X, y)
        assert tuple(est.classes_) == (0, 1) and est.classes_.dtype == np.int64
        assert est.predict(X).dtype == np.int64
        np.testing.assert_array_equal(est.predict(X), by_int.predict(X))
        np.testing.assert_array_equal(est.transform(X), by_int.transform(X))  # NA: unlabelled
    assert biovae.load_model(est.save(tmp_path / "m")).predict(X).dtype == np.int64


def test_a_float_y_with_nan_for_unlabelled_keeps_float_classes_as_sklearns_classifiers_do():
    from sklearn.linear_model import LogisticRegression

    by_int = _ssvae().fit(X, np.where(UNLABELLED, -1, LABELS))
    est = _ssvae().fit(X, np.where(UNLABELLED, np.nan, LABELS.astype(float)))
    assert tuple(est.classes_) == (0.0, 1.0) and est.classes_.dtype == np.float64
    assert est.predict(X).dtype == np.float64  # as scikit-learn's classifiers give a float y:
    assert LogisticRegression().fit(X, LABELS.astype(float)).classes_.dtype == np.float64
    np.testing.assert_array_equal(est.transform(X), by_int.transform(X))  # NaN: unlabelled
    np.testing.assert_array_equal(est.predict(X), by_int.predict(X).astype(float))


@pytest.mark.parametrize(
    "est",
    [
        biovae.VAE(n_latent=3, hidden=(8,), beta=0.5, epochs=2, seed=3),
        biovae.Autoencoder(n_latent=3, hidden=(8,), epochs=2, seed=3),
        biovae.PCA(n_latent=3),
        biovae.SemiSupervisedVAE(n_latent=3, hidden=(8,), epochs=2, seed=3),
    ],
    ids=lambda e: type(e).__name__,
)
def test_a_clone_of_a_loaded_model_refits_with_the_settings_it_was_fitted_with(est, tmp_path):
    """A loaded model's ``epochs``, ``hidden``... are None; its ``config`` parameter holds
    them, so ``clone`` (a grid search, cross-validation) does not fall back to defaults."""
    from sklearn.base import clone

    fitted = clone(est).fit(X, LABELS)
    loaded = type(est).load(fitted.save(tmp_path / "m"))
    assert loaded.get_params()["config"] == fitted.get_config()
    again = clone(loaded).fit(X, LABELS)
    assert again.config_ == fitted.config_
    np.testing.assert_array_equal(again.transform(X), fitted.transform(X))
