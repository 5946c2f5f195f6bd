"""Diagnostics measure a model in eval mode, whatever mode it is in, and leave it as it was:
a model straight out of ``fit_model`` is in training mode, where dropout would perturb every
number and batch norm would overwrite its running statistics (even under no_grad)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import biovae
from biovae.config import FitConfig, LikelihoodConfig, ModelConfig, NetworkConfig, TrainConfig
from biovae.diagnostics.amortization import amortization_gap
from biovae.diagnostics.likelihood import log_likelihood
from biovae.diagnostics.predictive import posterior_predictive
from biovae.diagnostics.rate_distortion import mutual_information, rate_distortion
from biovae.training import seeded

X = np.random.default_rng(0).normal(size=(64, 6)).astype(np.float32)

DIAGNOSTICS = {
    "rate_distortion": lambda m, b: rate_distortion(m, b, 2).distortion_n,
    "mutual_information": lambda m, b: mutual_information(m, b)["mutual_information"],
    "log_likelihood": lambda m, b: log_likelihood(m, b, k=3).log_px_n,
    "amortization_gap": lambda m, b: amortization_gap(m, b, 1, eval_samples=2, k=3).refined_n,
    "posterior_predictive": lambda m, b: posterior_predictive(m, b, 2).to_dict()["statistics"],
}


@pytest.fixture(scope="module")
def fitted() -> biovae.VAE:
    net = NetworkConfig(hidden=(8,), dropout=0.5, norm="batch")
    cfg = FitConfig(
        model=ModelConfig(n_latent=2, likelihood=LikelihoodConfig("gaussian"), network=net),
        train=TrainConfig(epochs=1, batch_size=32, validation_fraction=0.0, patience=0),
    )
    return biovae.VAE(config=cfg).fit(X)


@pytest.mark.parametrize("name", sorted(DIAGNOSTICS))
def test_a_model_in_training_mode_is_measured_in_eval_mode_and_left_as_it_was(fitted, name):
    model, measure = fitted.model_, DIAGNOSTICS[name]
    before = {k: v.clone() for k, v in model.state_dict().items()}
    model.eval()
    with seeded(0):
        expected = measure(model, fitted.batches(X))
    model.train()
    with seeded(0):
        got = measure(model, fitted.batches(X))
    assert model.training and all(m.training for m in model.modules())
    np.testing.assert_equal(got, expected)
    for k, v in model.state_dict().items():  # batch norm's running statistics untouched
        assert torch.equal(v, before[k]), k
    model.eval()
