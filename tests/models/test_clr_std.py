"""The ``clr_std`` classifier input: log-ratios standardised per feature (SIAMCAT's log.std)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from biovae import likelihoods
from biovae.config import LikelihoodConfig, ModelConfig, NetworkConfig
from biovae.models.semisupervised import SemiSupervisedVAE as Model
from biovae.models.semisupervised import clr
from biovae.objectives import Batch
from tests.models.test_clr_residual import compositions


def _model(n_features: int) -> Model:
    cfg = ModelConfig(
        n_latent=2, network=NetworkConfig(hidden=(8,), dropout=0.0), classifier_input="clr_std"
    )
    lik = likelihoods.build(LikelihoodConfig("gaussian"), (n_features,))
    return Model(lik, 0, 2, cfg).eval()


def test_features_are_standardised_with_the_sd_plus_its_10_percent_quantile():
    x = compositions(50, 12, 3)
    model = _model(12)
    before = model._classifier_features(x, torch.zeros(50, 2), None)
    torch.testing.assert_close(before, clr(x))  # not fitted yet: the identity transform
    model.fit_input_offset([Batch(x[:20]), Batch(x[20:])])  # accumulated over batches
    r = clr(x).double().numpy()
    sd = r.std(0, ddof=1)
    expected = (r - r.mean(0)) / (sd + np.quantile(sd, 0.1))
    got = model._classifier_features(x, torch.zeros(50, 2), None).double().numpy()
    np.testing.assert_allclose(got, expected, atol=1e-5)
    assert np.abs(got.mean(0)).max() < 1e-5  # centred; spread sd / (sd + q) < 1 per feature
    assert (got.std(0, ddof=1) < 1).all() and (got.std(0, ddof=1) > 0).all()


def test_saved_scale_travels_with_the_state_dict_and_needs_two_records():
    x = compositions(10, 4, 4)
    model = _model(4)
    model.fit_input_offset([Batch(x)])
    again = _model(4)
    again.load_state_dict(model.state_dict())
    torch.testing.assert_close(again.clr_scale, model.clr_scale)
    with pytest.raises(ValueError, match="two records"):
        _model(4).fit_input_offset([Batch(x[:1])])
