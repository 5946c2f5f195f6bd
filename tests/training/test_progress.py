"""The training progress bar: on a terminal only, and gone before an error is printed."""

from __future__ import annotations

import io
import sys

import numpy as np
import pytest

from biovae import VAE
from biovae.config import FitConfig, ModelConfig, NetworkConfig, TrainConfig
from biovae.errors import TrainingError


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _fit(monkeypatch, lr: float) -> str:
    screen = _Terminal()
    monkeypatch.setattr(sys, "stderr", screen)
    x = np.random.default_rng(0).normal(size=(40, 5)).astype(np.float32)
    cfg = FitConfig(
        model=ModelConfig(n_latent=2, network=NetworkConfig(hidden=(8,))),
        train=TrainConfig(epochs=5, batch_size=16, lr=lr, patience=0),
    )
    VAE(config=cfg, progress=True).fit(x)
    return screen.getvalue()


def test_the_bar_is_cleared_after_training(monkeypatch):
    shown = _fit(monkeypatch, 1e-3)
    assert "training" in shown and shown.rstrip(" ").endswith("\r")


def test_the_bar_is_cleared_before_a_training_error_is_printed(monkeypatch):
    """The bar stayed open when the loss became NaN: on a terminal the CLI's one-line error
    was printed on the bar's line ('...?epoch/s]biovae fit: error: the loss became nan')."""
    with pytest.raises(TrainingError, match="the loss became nan") as caught:
        _fit(monkeypatch, 1e30)
    # checked while the error (and its traceback) lives, as when the CLI prints it: the bar
    # would be closed once garbage
    shown = sys.stderr.getvalue()
    assert "training" in shown and shown.rstrip(" ").endswith("\r"), repr(shown[-80:])
    assert caught.value is not None
