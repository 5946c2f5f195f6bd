"""The ``clr_residual`` classifier input: log-ratios with covariate effects regressed out."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from biovae import SemiSupervisedVAE, likelihoods
from biovae.config import FitConfig, LikelihoodConfig, ModelConfig, NetworkConfig, TrainConfig
from biovae.data.dataset import Dataset
from biovae.errors import ConfigError, DataError
from biovae.models.semisupervised import SemiSupervisedVAE as Model
from biovae.models.semisupervised import clr
from biovae.objectives import Batch


def model_with(n_cov: int, n_features: int = 5) -> Model:
    cfg = ModelConfig(
        n_latent=2, network=NetworkConfig(hidden=(8,), dropout=0.0), classifier_input="clr_residual"
    )
    lik = likelihoods.build(LikelihoodConfig("gaussian"), (n_features,))
    return Model(lik, n_cov, 2, cfg).eval()


def compositions(n: int, f: int, seed: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    x = torch.rand(n, f, generator=gen)
    x[torch.rand(n, f, generator=gen) < 0.2] = 0.0  # zeros, as in real profiles
    return x / x.sum(1, keepdim=True)


def residual(model: Model, x: torch.Tensor, c: torch.Tensor | None) -> torch.Tensor:
    return model._classifier_features(x, torch.zeros(len(x), 2), c)


def test_one_categorical_covariate_centres_each_level():
    x = compositions(40, 5, 0)
    level = torch.arange(40) % 3
    c = torch.nn.functional.one_hot(level, 3).float()
    model = model_with(3)
    # two batches: the accumulation must equal the one-pass least squares
    model.fit_input_offset([Batch(x[:17], c[:17]), Batch(x[17:], c[17:])])
    expected = clr(x).double()
    for lv in range(3):
        rows = level == lv
        expected[rows] -= expected[rows].mean(0)
    torch.testing.assert_close(residual(model, x, c).double(), expected, atol=1e-5, rtol=0)


def test_collinear_design_gives_the_least_squares_residual():
    """Two one-hot blocks plus the intercept are rank deficient; the residual is unique."""
    x = compositions(60, 4, 1)
    a = torch.nn.functional.one_hot(torch.arange(60) % 2, 2).float()
    b = torch.nn.functional.one_hot((torch.arange(60) // 7) % 3, 3).float()
    c = torch.cat([a, b], 1)
    model = model_with(5, 4)
    model.fit_input_offset([Batch(x, c)])
    design = np.hstack([np.ones((60, 1)), c.numpy()]).astype(np.float64)
    target = clr(x).double().numpy()
    coef, *_ = np.linalg.lstsq(design, target, rcond=None)
    got = residual(model, x, c).double().numpy()
    np.testing.assert_allclose(got, target - design @ coef, atol=1e-5)


def test_without_covariates_the_residual_is_centred_on_the_overall_mean():
    x = compositions(30, 5, 2)
    model = model_with(0)
    model.fit_input_offset([Batch(x)])
    expected = clr(x) - clr(x).mean(0)
    torch.testing.assert_close(residual(model, x, None), expected, atol=1e-5, rtol=0)


def test_other_inputs_have_no_offset_and_ignore_the_call():
    cfg = ModelConfig(n_latent=2, network=NetworkConfig(hidden=(8,)), classifier_input="clr")
    model = Model(likelihoods.build(LikelihoodConfig("gaussian"), (5,)), 0, 2, cfg)
    model.fit_input_offset([Batch(compositions(4, 5, 3))])
    assert "clr_offset" not in model.state_dict()


def test_an_unknown_classifier_input_is_rejected():
    with pytest.raises(ConfigError, match="clr_residual"):
        ModelConfig(kind="ssvae", classifier_input="clr_batch")


def study_data(seed: int = 0):
    """Two studies with a multiplicative per-taxon bias each; the label shifts taxa 0–1."""
    rng = np.random.default_rng(seed)
    n, f = 240, 8
    study = np.repeat(["s1", "s2"], n // 2)
    y = rng.integers(0, 2, n)
    log_p = rng.normal(size=(n, f))
    log_p[:, :2] += 3.0 * y[:, None]
    log_p += np.where(study[:, None] == "s1", 0.0, rng.normal(scale=3.0, size=f))
    p = np.exp(log_p)
    x = (p / p.sum(1, keepdims=True)).astype(np.float32)
    names = np.array(["control", "case"], dtype=object)[y]
    shown = np.where(rng.random(n) < 0.3, names, "unknown").astype(object)
    obs = {"lab": shown, "study": study.astype(object)}
    return Dataset(x, [f"r{i}" for i in range(n)], [f"t{j}" for j in range(f)], obs), names


def test_fitted_estimator_learns_the_offsets_and_saves_them(tmp_path):
    from biovae.estimator import load_model

    ds, names = study_data()
    cfg = FitConfig(
        model=ModelConfig(
            n_latent=2, network=NetworkConfig(hidden=(16,), dropout=0.0),
            likelihood=LikelihoodConfig("gaussian"), classifier_input="clr_residual",
        ),
        train=TrainConfig(epochs=30, batch_size=32, seed=0, patience=0),
    )  # fmt: skip
    cfg = FitConfig(
        model=cfg.model, train=cfg.train, data=cfg.data.__class__(categorical_covariates=("study",))
    )
    est = SemiSupervisedVAE(labels_key="lab", config=cfg).fit(ds)
    offset = est.model_.clr_offset
    # intercept + two study levels; the study difference of the offsets is the bias in clr
    assert offset.shape == (3, 8)
    assert torch.count_nonzero(offset) > 0
    hidden = ds.obs["lab"] == "unknown"
    accuracy = float((est.predict(ds)[hidden] == names[hidden]).mean())
    assert accuracy > 0.9
    loaded = load_model(est.save(tmp_path / "m"))
    np.testing.assert_array_equal(loaded.predict_proba(ds), est.predict_proba(ds))


def test_clr_inputs_refuse_data_that_are_no_composition():
    cfg = ModelConfig(n_latent=2, network=NetworkConfig(hidden=(8,)), classifier_input="clr")
    lik = likelihoods.build(LikelihoodConfig("genotype"), (6,))
    with pytest.raises(ConfigError, match=r"log-ratios of compositions.*'genotype'"):
        Model(lik, 0, 2, cfg)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 5)).astype(np.float32)  # negative values: no shares to take logs of
    obs = {"lab": np.where(np.arange(40) % 2, "a", "b").astype(object)}
    ds = Dataset(x, [f"r{i}" for i in range(40)], [f"t{j}" for j in range(5)], obs)
    fit = FitConfig(model=cfg, train=TrainConfig(epochs=1))
    with pytest.raises(DataError, match=r"negative or missing.*log-ratios"):
        SemiSupervisedVAE(labels_key="lab", config=fit).fit(ds)
