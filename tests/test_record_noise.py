"""Noise keyed by record: standard normal, independent across draws, dimensions and records,
and a record's draws and Monte-Carlo scores do not depend on its file, order or batch."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.stats as st
import torch

import biovae
from biovae import estimator, objectives
from biovae.record_noise import RecordNoise, record_keys


def _normals(n_records=2000, n_draws=25, k=4, seed=0):
    keys = record_keys([f"r{i}" for i in range(n_records)], seed)
    return RecordNoise(keys).standard_normal(n_draws, k, torch.float64, "cpu").numpy()


def test_draws_are_independent_standard_normals():
    eps = _normals()  # 200,000 values
    assert st.kstest(eps.ravel(), "norm").pvalue > 1e-3
    flat = eps.reshape(-1)
    # neighbours in a record's stream, and the same draw of neighbouring records
    for a, b in ((eps[:-1], eps[1:]), (eps[:, :-1], eps[:, 1:]), (eps[..., :-1], eps[..., 1:])):
        assert abs(np.corrcoef(a.ravel(), b.ravel())[0, 1]) < 0.01
    assert abs(flat.mean()) < 0.01 and abs(flat.var() - 1) < 0.01


def test_a_records_stream_continues_across_calls_and_depends_on_seed_and_id():
    keys = record_keys(["a", "b", "c"], 7)
    noise = RecordNoise(keys)
    first, second = (noise.standard_normal(2, 3, torch.float64, "cpu") for _ in range(2))
    both = RecordNoise(keys).standard_normal(4, 3, torch.float64, "cpu")
    assert torch.equal(torch.cat([first, second]), both)
    alone = RecordNoise(record_keys(["c"], 7)).standard_normal(4, 3, torch.float64, "cpu")
    assert torch.equal(alone[:, 0], both[:, 2])  # record c, whatever its company
    assert not np.array_equal(record_keys(["a"], 7), record_keys(["a"], 8))
    assert len(set(record_keys([str(i) for i in range(10_000)], 0))) == 10_000


@pytest.fixture(scope="module")
def counts():
    x = np.random.default_rng(0).poisson(3.0, (90, 8)).astype(float)
    labels = np.array(["a", "b", "unknown"] * 30, dtype=object)
    frame = pd.DataFrame(x, index=[f"c{i}" for i in range(90)])
    return frame, pd.DataFrame({"y": labels}, index=frame.index)


@pytest.mark.parametrize("kind", ["vae", "ssvae"])
@pytest.mark.parametrize("how", [{"n_samples": 3}, {"iwae": 6}])
def test_a_record_scores_the_same_in_any_file_order_or_batch(counts, monkeypatch, kind, how):
    x, obs = counts
    if kind == "vae":
        est = biovae.VAE(likelihood="poisson", epochs=2, n_latent=2).fit(x)
    else:
        est = biovae.SemiSupervisedVAE(likelihood="poisson", labels_key="y", epochs=2, n_latent=2)
        est = est.fit(x, obs)
    full = est.score_samples(x, obs, seed=5, **how)
    order = np.random.default_rng(1).permutation(90)
    some = order[:7]
    monkeypatch.setattr(estimator, "_EVAL_BATCH", 16)  # other batches, other company
    monkeypatch.setattr(objectives, "DECODE_ROWS", 40)  # IWAE draws in chunks of 2 or 5
    shuffled = est.score_samples(x.iloc[order], obs.iloc[order], seed=5, **how)
    subset = est.score_samples(x.iloc[some], obs.iloc[some], seed=5, **how)
    np.testing.assert_allclose(shuffled, full[order], rtol=1e-5)
    np.testing.assert_allclose(subset, full[some], rtol=1e-5)
    other_seed = est.score_samples(x, obs, seed=6, **how)
    assert np.abs(other_seed - full).max() > 1e-3


@pytest.mark.parametrize("seed", [-1, 2**63, 1.5, "3"])
def test_a_seed_outside_the_config_range_is_a_config_error(seed):
    from biovae.errors import ConfigError

    with pytest.raises(ConfigError, match=r"seed must be an integer in 0 \.\. 2\*\*63 - 1"):
        record_keys(["a"], seed)
    assert record_keys(["a"], np.int64(3)) == record_keys(["a"], 3)


def test_score_refuses_a_seed_torch_would_choke_on(counts):
    from biovae.errors import ConfigError

    x, _ = counts
    est = biovae.VAE(likelihood="poisson", epochs=1, n_latent=2).fit(x)
    for seed in (2**64, -(2**63) - 1):
        with pytest.raises(ConfigError, match="seed must be an integer"):
            est.score(x, seed=seed)


def test_keyed_draws_need_a_diagonal_gaussian():
    from torch.distributions import Independent, Laplace

    from biovae.objectives import Batch, draw

    batch = Batch(torch.zeros(3, 2), noise=RecordNoise(record_keys(["a", "b", "c"], 0)))
    q = Independent(Laplace(torch.zeros(3, 2), torch.ones(3, 2)), 1)
    with pytest.raises(TypeError, match="diagonal Gaussian"):
        draw(q, batch)
