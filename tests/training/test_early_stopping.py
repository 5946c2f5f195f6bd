"""Early stopping: which epochs count toward patience, and the weights kept."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from biovae import VAE
from biovae.config import FitConfig, ModelConfig, NetworkConfig, ObjectiveConfig, TrainConfig
from biovae.training import loop


def _cfg(warmup: int, patience: int = 2, epochs: int = 30) -> FitConfig:
    return FitConfig(
        model=ModelConfig(n_latent=2, network=NetworkConfig(hidden=(8,))),
        objective=ObjectiveConfig(kl_warmup_epochs=warmup),
        train=TrainConfig(epochs=epochs, batch_size=16, patience=patience, lr=0.03),
    )


def _x(n: int = 40) -> np.ndarray:
    return np.random.default_rng(0).normal(size=(n, 4)).astype(np.float32)


@pytest.mark.parametrize(("warmup", "epochs_run"), [(0, 3), (1, 3), (5, 6)])
def test_patience_counts_from_the_first_epoch_at_the_target_beta(monkeypatch, warmup, epochs_run):
    """Validation loss 0.5 after epoch 1, 1.0 after every later one, patience 2: two epochs
    without progress stop the fit after epoch 3; under a 5-epoch warm-up epochs 2-4 train
    below the target β and do not count, so epochs 5 and 6 are the two (as documented)."""

    def held_out(model, source, objective, epoch, *args, **kwargs):
        v = 0.5 if epoch == 0 else 1.0
        return {"loss": v, "recon": v, "kl": 0.0, "elbo": -v}

    monkeypatch.setattr(loop, "evaluate", held_out)
    assert len(VAE(config=_cfg(warmup)).fit(_x()).history_) == epochs_run


def test_the_weights_kept_are_those_of_the_best_validation_epoch_bit_for_bit(monkeypatch):
    seen = []
    real = loop.evaluate

    def snapshot(model, *args, **kwargs):  # the weights each epoch's validation loss is of
        seen.append(copy.deepcopy(model.state_dict()))
        return real(model, *args, **kwargs)

    monkeypatch.setattr(loop, "evaluate", snapshot)
    est = VAE(config=_cfg(0, patience=4, epochs=200)).fit(_x(80))
    scores = [h["val_recon"] + h["val_kl"] for h in est.history_]  # β = 1
    best = int(np.argmin(scores))
    assert len(est.history_) == best + 1 + 4 < 200  # stopped 4 epochs (patience) after it
    kept = est.model_.state_dict()
    assert all(torch.equal(kept[k], seen[best][k]) for k in kept)
    assert not all(torch.equal(kept[k], seen[-1][k]) for k in kept)
