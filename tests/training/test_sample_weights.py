"""Per-record weights: the objective is Σ w_i loss_i / Σ w_i and the estimator accepts them."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from biovae import VAE
from biovae.config import FitConfig, LikelihoodConfig, ModelConfig, NetworkConfig, TrainConfig
from biovae.errors import DataError
from biovae.likelihoods import build
from biovae.models import build_model
from biovae.objectives import Batch, elbo


def test_zero_weight_records_do_not_count():
    cfg = ModelConfig(n_latent=2, network=NetworkConfig(hidden=(8,), dropout=0.0))
    model = build_model(build(LikelihoodConfig(), (5,)), 0, cfg)
    x = torch.randn(4, 5)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        weighted = elbo(model, Batch(x, w=torch.tensor([1.0, 3.0, 0.0, 0.0])), beta=1.0)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        per_record = elbo(model, Batch(x), beta=1.0)
    expected = (-(per_record.elbo_n[:2]) * torch.tensor([1.0, 3.0])).sum() / 4.0
    assert weighted.loss.item() == pytest.approx(expected.item(), rel=1e-5)


def test_estimator_sample_weight():
    x = np.random.default_rng(0).normal(size=(40, 6)).astype(np.float32)
    cfg = FitConfig(
        model=ModelConfig(n_latent=2, network=NetworkConfig(hidden=(8,))),
        train=TrainConfig(epochs=2, batch_size=8),
    )
    a = VAE(config=cfg).fit(x, sample_weight=np.ones(40))
    b = VAE(config=cfg).fit(x, sample_weight=np.r_[np.ones(20), np.full(20, 5.0)])
    assert a.transform(x).shape == (40, 2)
    assert not np.allclose(a.transform(x), b.transform(x))
    with pytest.raises(DataError, match="sample_weight"):
        VAE(config=cfg).fit(x, sample_weight=-np.ones(40))


def test_a_batch_of_weight_zero_adds_nothing_instead_of_nan():
    """Σ w_i loss_i / Σ w_i is 0/0 for a batch whose records all have weight 0 (likely when
    most weights are 0): the loss was NaN and the fit stopped with 'the loss became nan'."""
    model = build_model(build(LikelihoodConfig(), (5,)), 0, ModelConfig(n_latent=2))
    out = elbo(model, Batch(torch.randn(4, 5), w=torch.zeros(4)), beta=1.0)
    assert out.loss.item() == 0.0
    x = np.random.default_rng(0).normal(size=(64, 5)).astype(np.float32)
    w = np.r_[np.ones(3), np.zeros(61)]
    cfg = FitConfig(
        model=ModelConfig(n_latent=2, network=NetworkConfig(hidden=(8,))),
        train=TrainConfig(epochs=2, batch_size=8, patience=0),
    )
    est = VAE(config=cfg).fit(x, sample_weight=w)
    assert all(np.isfinite(row["loss"]) for row in est.history_)


def test_validation_statistics_are_weighted_means_as_the_loss_is():
    """The validation loss that picks the kept epoch is Σ w_i v_i / Σ w_i, as the training
    loss is; it was the unweighted mean, so records of weight 0 chose the epoch."""
    from biovae.config import ObjectiveConfig
    from biovae.training import InMemorySource, evaluate

    cfg = ModelConfig(n_latent=2, network=NetworkConfig(hidden=(8,), dropout=0.0))
    model = build_model(build(LikelihoodConfig(), (5,)), 0, cfg).eval()
    x, w = torch.randn(6, 5), torch.tensor([1.0, 3.0, 0.0, 0.0, 2.0, 0.0])
    x[w == 0] *= 100.0  # records the fit is told to ignore, far off
    with torch.random.fork_rng():
        torch.manual_seed(0)
        row = evaluate(model, InMemorySource(x, w=w), ObjectiveConfig(), 0, batch_size=8)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        out = elbo(model, Batch(x), beta=1.0)
    for key, v_n in (("elbo", out.elbo_n), ("recon", out.recon_n), ("kl", out.kl_n)):
        expected = float((v_n.double() * w.double()).sum() / w.sum())
        assert row[key] == pytest.approx(expected, rel=1e-6), key


def test_history_of_a_weighted_fit_is_weighted_and_a_weightless_split_is_left_out():
    from biovae.fit_inputs import validation_split

    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 6)).astype(np.float32)
    junk = rng.random(200) < 0.5
    x[junk] *= 30.0
    w = np.where(junk, 0.0, 1.0)
    cfg = FitConfig(
        model=ModelConfig(n_latent=2, network=NetworkConfig(hidden=(8,))),
        train=TrainConfig(epochs=2, batch_size=32, patience=0),
    )
    est = VAE(config=cfg).fit(x, sample_weight=w)
    _, val = validation_split(200, 0.1, 0)
    scores = est.score_samples(x[val.numpy()])
    expected = np.average(scores, weights=w[val.numpy()])  # other draws of z: within 20 %
    assert abs(est.history_[-1]["val_elbo"] - expected) < 0.2 * abs(expected)
    w[val.numpy()] = 0.0  # held-out records of weight 0 cannot tell one epoch from another
    est = VAE(config=cfg).fit(x, sample_weight=w)
    assert est.n_validation_ == len(val) and not any("val_elbo" in h for h in est.history_)


@pytest.mark.parametrize("scale", [2.0**-200, 2.0**200])
def test_weights_of_any_scale_fit_as_weights_near_one(scale):
    """Σ w_i loss_i / Σ w_i is the same for w and c·w, but in float32 weights of 1e-50 were 0
    (loss 0, no validation: the untrained model came back) and 1e39 made the loss NaN."""
    x = np.random.default_rng(0).normal(size=(40, 5)).astype(np.float32)
    cfg = FitConfig(
        model=ModelConfig(n_latent=2, network=NetworkConfig(hidden=(8,))),
        train=TrainConfig(epochs=2, batch_size=16),
    )
    w = np.r_[np.full(20, 1.5), np.full(20, 0.75)]
    plain = VAE(config=cfg).fit(x, sample_weight=w)
    scaled = VAE(config=cfg).fit(x, sample_weight=w * scale)
    for a, b in zip(plain.model_.state_dict().values(), scaled.model_.state_dict().values()):
        assert torch.equal(a, b)
    assert [r["val_loss"] for r in scaled.history_] == [r["val_loss"] for r in plain.history_]
