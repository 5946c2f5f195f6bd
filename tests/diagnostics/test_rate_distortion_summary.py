"""Rate and distortion summarised batch by batch (what ``biovae sweep`` measures, in the memory
of one batch): the merged moments are numpy's over all records, and the summary of a fitted
VAE is its rate, distortion and activity computed by hand over all records at once."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import biovae
from biovae.config import FitConfig, LikelihoodConfig, ModelConfig, NetworkConfig, TrainConfig
from biovae.diagnostics._stats import Moments, mean_se
from biovae.diagnostics.rate_distortion import rate_distortion_summary
from biovae.record_noise import RecordNoise, record_keys
from biovae.training import BatchPasses


@pytest.mark.parametrize("sizes", [[1, 4, 2, 9, 1, 3], [20], [2, 0, 18]])
def test_merged_moments_are_those_of_all_values(sizes):
    # far from 0 and little spread: running sums of squares would lose the variance
    rng = np.random.default_rng(len(sizes))
    v = 1e6 + rng.normal(size=(sum(sizes), 3)) * [1.0, 1e-3, 5.0]
    merged = Moments.of(np.zeros((0, 0)))
    for part in np.split(v, np.cumsum(sizes)[:-1]):
        merged += Moments.of(part)
    assert merged.n == len(v)
    np.testing.assert_allclose(merged.mean, v.mean(0), rtol=1e-14)
    np.testing.assert_allclose(merged.variance(), v.var(0), rtol=1e-7)
    np.testing.assert_allclose(
        merged.standard_error(), v.std(0, ddof=1) / math.sqrt(len(v)), rtol=1e-7
    )


def test_the_standard_error_of_one_value_is_undefined():
    assert np.isnan(Moments.of(np.ones((1, 2))).standard_error()).all()
    assert mean_se(np.array([2.0, 4.0])) == pytest.approx((3.0, 1.0))  # sd √2, over √2
    mean, se = mean_se(np.array([5.0]))
    assert mean == 5.0 and math.isnan(se)


def test_a_summary_over_batches_is_the_rate_and_distortion_of_all_records_at_once():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(61, 2)) @ rng.normal(size=(2, 5)) + 0.3 * rng.normal(size=(61, 5))
    x = x.astype(np.float32)
    cfg = FitConfig(
        model=ModelConfig(
            n_latent=3, likelihood=LikelihoodConfig("gaussian"), network=NetworkConfig(hidden=(8,))
        ),
        train=TrainConfig(epochs=5, batch_size=16, seed=2),
    )
    est = biovae.VAE(config=cfg).fit(x)
    keys, draws = record_keys([f"r{i}" for i in range(61)], 5), 4
    passes = BatchPasses(est.batches(x).source, 7).keyed(keys)  # 9 batches, the last of 5
    got = rate_distortion_summary(est.model_, passes, draws)

    model = est.model_.eval()
    with torch.no_grad():
        xt = torch.from_numpy(x)
        qz = model.encode(xt, None)
        mu, sd = qz.mean.double(), qz.stddev.double()
        rate = 0.5 * (mu**2 + sd**2 - 1 - 2 * torch.log(sd)).sum(-1)  # KL(N(μ, σ²) || N(0, I))
        eps = RecordNoise(keys).standard_normal(draws, 3, torch.float32, None)  # (S, n, k)
        px = model.decode(qz.mean + qz.stddev * eps, None, model.context(xt))
        m, s = px.mean.double(), px.stddev.double()
        log_px = -0.5 * ((xt.double() - m) / s) ** 2 - torch.log(s) - 0.5 * math.log(2 * math.pi)
        distortion = -log_px.sum(-1).mean(0)
    expected = {"n": 61}
    for name, v in (("rate", rate), ("distortion", distortion), ("elbo", -(rate + distortion))):
        v = v.numpy()
        expected[name], expected[name + "_se"] = v.mean(), v.std(ddof=1) / math.sqrt(len(v))
    assert got.to_dict() == pytest.approx(expected, rel=1e-5)
    np.testing.assert_allclose(got.activity(), mu.numpy().var(0), rtol=1e-5)
