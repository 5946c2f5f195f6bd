"""Diagnostics of the semi-supervised VAE: the rate of its own unlabelled bound, and the
marginal log p(x) above every bound."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import biovae
from biovae.config import DataConfig, FitConfig, ModelConfig, NetworkConfig, TrainConfig
from biovae.diagnose import DiagnoseOptions, diagnose
from biovae.inputs import as_dataset
from biovae.objectives import Batch, ObjectiveConfig, rate_terms


def _fit(classifier_input: str = "z"):
    rng = np.random.default_rng(0)
    group = np.repeat(["a", "b"], 60)
    mean = np.where(group[:, None] == "a", [8.0, 1.0, 4.0, 2.0] * 5, [1.0, 8.0, 2.0, 4.0] * 5)
    x = rng.poisson(mean).astype(np.float32)
    labels = np.where(rng.random(120) < 0.3, group, "unknown")
    cfg = FitConfig(
        model=ModelConfig(
            kind="ssvae",
            n_latent=2,
            network=NetworkConfig(hidden=(16,)),
            classifier_input=classifier_input,
        ),
        train=TrainConfig(epochs=30, batch_size=32, seed=0),
        data=DataConfig(labels_key="lab", unlabeled_category="unknown"),
    )
    est = biovae.SemiSupervisedVAE("poisson", labels_key="lab", config=cfg)
    return x, {"lab": labels}, est.fit(x, {"lab": labels})


def test_rate_is_the_training_bound_of_unlabelled_records():
    x, _, est = _fit(classifier_input="x")  # q(y|x) does not depend on the draw of z
    model, xt = est.model_, torch.from_numpy(x)
    with torch.no_grad():
        out = model.loss(Batch(xt), ObjectiveConfig())  # no labels: every record unlabelled
        kl_nk, rest_n = rate_terms(model, xt, None, model.encode(xt))
    torch.testing.assert_close(kl_nk.sum(-1) + rest_n, out.kl_n)
    torch.testing.assert_close(kl_nk, out.kl_nk)
    assert torch.all(rest_n >= -1e-6) and torch.all(rest_n <= np.log(2) + 1e-6)


def test_diagnose_semi_supervised_vae():
    x, obs, est = _fit()
    options = DiagnoseOptions(iwae_k=200, gap_records=40, gap_steps=100, ppc_replicates=5)
    out = diagnose(est, as_dataset(x, obs), options)
    elbo, log_px = out["rate_distortion"]["elbo"], out["log_likelihood"]["mean"]
    assert np.isfinite([elbo, log_px]).all()
    assert log_px >= elbo - 0.05  # IWAE-200 of the marginal model bounds above the ELBO
    gap = out["amortization"]
    assert gap["refined_elbo"] >= gap["amortized_elbo"] - 0.05
    assert gap["log_px"] >= gap["refined_elbo"] - 0.05
    mi = out["collapse"]["mutual_information"]
    assert 0 <= mi["mutual_information"] <= mi["max"] + 1e-6
    assert "predictive" in out


@pytest.mark.parametrize("classifier_input", ["z", "x"])
def test_report_latent_usage_of_ssvae_has_kl(classifier_input):
    x, obs, est = _fit(classifier_input)
    from biovae.diagnostics.latent import kl_per_dimension

    kl = kl_per_dimension(est, as_dataset(x, obs))
    assert kl.shape == (2,) and np.all(kl >= 0)
