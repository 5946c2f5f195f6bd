"""Checkpoints: arguments that would do nothing, and checkpoints of other versions."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from biovae import VAE
from biovae.config import FitConfig, ModelConfig, NetworkConfig, TrainConfig
from biovae.errors import ConfigError
from biovae.likelihoods import fused


def _x():
    return np.random.default_rng(0).normal(size=(40, 5)).astype(np.float32)


def _vae(every, epochs=1):
    return VAE(
        config=FitConfig(
            model=ModelConfig(n_latent=2, network=NetworkConfig(hidden=(8,))),
            train=TrainConfig(epochs=epochs, batch_size=16, checkpoint_every=every),
        ),
        progress=False,
    )


def test_checkpoint_arguments_that_would_do_nothing_are_refused(tmp_path):
    with pytest.raises(ConfigError, match=r"resume=True needs checkpoint_dir"):
        _vae(1).fit(_x(), resume=True)  # trained from scratch, silently
    with pytest.raises(ConfigError, match=r"no checkpoint with train.checkpoint_every 0"):
        _vae(0).fit(_x(), checkpoint_dir=tmp_path / "c")  # wrote nothing, silently
    assert not (tmp_path / "c").exists()


def test_a_checkpoint_of_another_torch_resumes_with_a_warning(tmp_path, recwarn):
    full = _vae(1, epochs=2).fit(_x(), checkpoint_dir=tmp_path / "a")
    _vae(1).fit(_x(), checkpoint_dir=tmp_path / "c")
    _vae(1, epochs=2).fit(_x(), checkpoint_dir=tmp_path / "c", resume=True)
    assert not [w for w in recwarn if "another version" in str(w.message)]  # same versions
    state = tmp_path / "c" / "state.json"
    meta = json.loads(state.read_text())
    meta["versions"]["torch"] = "1.0.0"
    state.write_text(json.dumps(meta))
    with pytest.warns(UserWarning, match=r"another version \(torch 1\.0\.0 there, .* now\)"):
        resumed = _vae(1, epochs=2).fit(_x(), checkpoint_dir=tmp_path / "c", resume=True)
    a, b = full.model_.state_dict(), resumed.model_.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)  # it resumed


def test_a_resume_whose_epochs_switch_the_compiled_kernels_warns(tmp_path, monkeypatch, recwarn):
    """train.compile auto decides on the planned epochs: an NB fit of 20 epochs ran its kernels
    eager, its resume to 200 epochs compiled them (float32 rounding differs, ~3e-8 in the
    weights), and the resumed fit was silently not the uninterrupted one. Here the decision
    comes at 12 planned steps (3 per epoch), for inputs no batch reaches (nothing compiles)."""
    monkeypatch.setattr(fused, "decide", lambda mode, steps, numel: None if steps < 12 else 1 << 62)
    _vae(1, epochs=2).fit(_x(), checkpoint_dir=tmp_path / "c")  # 6 steps: eager
    _vae(1, epochs=3).fit(_x(), checkpoint_dir=tmp_path / "c", resume=True)  # 9: eager too
    assert not [w for w in recwarn if "kernels" in str(w.message)]
    with pytest.warns(UserWarning, match=r"eager NB/ZINB kernels and this fit of 6 epochs runs "):
        _vae(1, epochs=6).fit(_x(), checkpoint_dir=tmp_path / "c", resume=True)  # 18: compiled
    with pytest.warns(UserWarning, match=r"compiled NB/ZINB kernels .* of 7 epochs runs eager"):
        monkeypatch.setattr(fused, "decide", lambda mode, steps, numel: None)
        _vae(1, epochs=7).fit(_x(), checkpoint_dir=tmp_path / "c", resume=True)
