"""The MMD de-confounding penalty against its definition, and on synthetic data whose batch and
biology are known: without the penalty a conditional VAE keeps the batch in its latent map,
with it the batch falls toward chance while the biological factor survives."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from biovae import VAE
from biovae.config import (
    DataConfig,
    FitConfig,
    ModelConfig,
    NetworkConfig,
    ObjectiveConfig,
    TrainConfig,
)
from biovae.diagnostics.confounding import audit_covariate
from biovae.errors import ConfigError
from biovae.objectives import MMD_BANDWIDTHS, mmd_levels


def _kernel(a: np.ndarray, b: np.ndarray) -> float:
    d2 = float(((a - b) ** 2).sum())
    return float(np.mean([np.exp(-d2 / (2 * s)) for s in MMD_BANDWIDTHS]))


def _mmd_by_loops(z: np.ndarray, member: np.ndarray) -> float:
    """MMD²_u = mean_{i≠j} k(a_i, a_j) + mean_{i≠j} k(b_i, b_j) − 2 mean k(a, b), pair by pair."""
    a, b = z[member], z[~member]
    kaa = np.mean([_kernel(a[i], a[j]) for i in range(len(a)) for j in range(len(a)) if i != j])
    kbb = np.mean([_kernel(b[i], b[j]) for i in range(len(b)) for j in range(len(b)) if i != j])
    kab = np.mean([_kernel(p, q) for p in a for q in b])
    return kaa + kbb - 2 * kab


def test_mmd_matches_the_pairwise_definition():
    rng = np.random.default_rng(0)
    z = rng.normal(size=(13, 3))
    z[:5] += 1.5
    levels = np.array([0] * 5 + [1] * 4 + [2] * 4)
    g = np.eye(3)[levels]
    expected = np.mean([_mmd_by_loops(z, levels == lv) for lv in range(3)])
    got = mmd_levels(torch.tensor(z), torch.tensor(g))
    assert float(got) == pytest.approx(expected, rel=1e-9)


def test_mmd_in_float32_with_few_records_on_one_side_matches_the_definition():
    # B×B was formed as all×all − 2 A×all + A×A, sums of ≈ n² cancelling to a few: with 3 of
    # 1,024 records outside the level the float32 penalty was −0.141 where it is −0.040
    rng = np.random.default_rng(3)
    z = rng.normal(size=(1024, 10)) * 0.3
    member = np.arange(1024) < 1021
    d2 = ((z[:, None, :] - z[None, :, :]) ** 2).sum(-1)
    k = np.mean([np.exp(-d2 / (2 * s)) for s in MMD_BANDWIDTHS], 0)
    np.fill_diagonal(k, np.nan)  # i ≠ j
    a, b = member, ~member
    expected = np.nanmean(k[a][:, a]) + np.nanmean(k[b][:, b]) - 2 * np.mean(k[a][:, b])
    g = torch.tensor(member, dtype=torch.float32)[:, None]
    got = mmd_levels(torch.tensor(z, dtype=torch.float32), g)
    assert float(got) == pytest.approx(expected, abs=1e-5)


def test_mmd_gradient_passes_gradcheck():
    # the kernel's derivative is hand-written (formed in the forward pass)
    z = torch.randn(9, 3, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    g = torch.eye(3, dtype=torch.float64)[torch.arange(9) % 3]
    assert torch.autograd.gradcheck(lambda v: mmd_levels(v, g), (z.requires_grad_(),))


def _two_samples(shift: float, reps: int = 400, n: int = 10) -> torch.Tensor:
    gen = torch.Generator().manual_seed(1)
    z = torch.randn(reps, 2 * n, 2, generator=gen, dtype=torch.float64)
    z[:, n:] += shift
    g = torch.cat(
        [torch.tensor([[1.0, 0.0]]).repeat(n, 1), torch.tensor([[0.0, 1.0]]).repeat(n, 1)]
    )
    return torch.stack([mmd_levels(zr, g.double()) for zr in z])


def test_mmd_is_unbiased_under_the_null_and_grows_with_a_shift():
    null = _two_samples(0.0)
    # E[MMD²_u] = 0 when both levels come from one law (the V-statistic would be > 0)
    assert abs(float(null.mean())) < 3 * float(null.std()) / len(null) ** 0.5
    shifted = [float(_two_samples(d).mean()) for d in (0.5, 1.0, 2.0)]
    assert 0 < shifted[0] < shifted[1] < shifted[2]


def test_levels_missing_from_the_batch_are_left_out():
    z = torch.randn(12, 2, generator=torch.Generator().manual_seed(3))
    g = torch.eye(2)[torch.arange(12) % 2]
    padded = torch.cat([g, torch.zeros(12, 1), torch.ones(12, 1)], 1)  # absent, everywhere
    torch.testing.assert_close(mmd_levels(z, padded), mmd_levels(z, g))
    assert float(mmd_levels(z, torch.ones(12, 1))) == 0.0


def batch_and_biology(n: int = 600, seed: int = 0):
    """x = f(z_bio) + batch effect that interacts with z_bio (so conditioning alone does not
    remove it), Gaussian noise; biology = sign of z_bio[0]."""
    rng = np.random.default_rng(seed)
    z_bio = rng.normal(size=(n, 2))
    batch = rng.integers(0, 3, n)
    w = rng.normal(size=(2, 20))
    shift = rng.normal(size=(3, 20)) * 3.0
    x = (
        np.tanh(z_bio @ w)
        + shift[batch] * (1 + 0.5 * z_bio[:, 1:2])
        + 0.1 * rng.normal(size=(n, 20))
    )
    obs = {
        "batch": np.array([f"b{b}" for b in batch], dtype=object),
        "bio": np.where(z_bio[:, 0] > 0, "up", "down").astype(object),
    }
    return x.astype(np.float32), obs


def conditional_fit(x, obs, mmd: float) -> np.ndarray:
    cfg = FitConfig(
        model=ModelConfig(n_latent=4, network=NetworkConfig(hidden=(32,), dropout=0.0)),
        objective=ObjectiveConfig(mmd_batch=mmd),
        train=TrainConfig(epochs=60, batch_size=100, lr=3e-3, patience=0, seed=0),
        data=DataConfig(categorical_covariates=("batch",)),
    )
    return VAE(config=cfg).fit(x, obs).transform(x, obs)


def test_mmd_removes_the_batch_from_a_conditional_map_and_keeps_the_biology():
    torch.set_num_threads(1)
    x, obs = batch_and_biology()
    plain = conditional_fit(x, obs, 0.0)
    penalised = conditional_fit(x, obs, 100.0)
    before = audit_covariate(plain, obs["batch"])["balanced_accuracy"]
    after = audit_covariate(penalised, obs["batch"])["balanced_accuracy"]
    bio_before = audit_covariate(plain, obs["bio"])["balanced_accuracy"]
    bio_after = audit_covariate(penalised, obs["bio"])["balanced_accuracy"]
    assert before > 0.6  # chance is 1/3: the batch is in the conditional map
    assert after < 0.42 and after < before - 0.3  # toward chance
    assert bio_before > 0.9 and bio_after > 0.8  # chance 0.5: the biology survives


def test_mmd_needs_a_categorical_covariate_and_the_elbo():
    x, obs = batch_and_biology(n=50)
    with pytest.raises(ConfigError, match="--categorical-covariates"):
        VAE(config=FitConfig(objective=ObjectiveConfig(mmd_batch=1.0))).fit(x, obs)
    with pytest.raises(ConfigError, match="iwae_samples"):
        ObjectiveConfig(mmd_batch=1.0, iwae_samples=5)
    with pytest.raises(ConfigError, match=">= 0"):
        ObjectiveConfig(mmd_batch=-1.0)
