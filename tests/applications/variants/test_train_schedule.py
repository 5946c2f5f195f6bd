"""The learning-rate schedule of family fits: constant, or linear decay to 0 over the budget."""

from __future__ import annotations

from dataclasses import replace

import pytest

from biovae.applications.variants import train as train_mod
from biovae.applications.variants.config import FamilyTrainConfig
from biovae.errors import ConfigError


def test_linear_factor_follows_steps_or_time_whichever_is_further():
    steps = FamilyTrainConfig(steps=200, lr_schedule="linear")
    assert train_mod.lr_factor(steps, 1, 0.0) == 1.0
    assert train_mod.lr_factor(steps, 101, 1e6) == pytest.approx(0.5)  # no time limit set
    assert train_mod.lr_factor(steps, 200, 0.0) == pytest.approx(1 / 200)
    timed = replace(steps, steps=10**9, max_minutes=2.0)
    assert train_mod.lr_factor(timed, 5, 30.0) == pytest.approx(0.75)
    assert train_mod.lr_factor(timed, 5, 150.0) == 0.0  # past the budget: never negative
    both = replace(steps, max_minutes=10.0)
    assert train_mod.lr_factor(both, 151, 60.0) == pytest.approx(0.25)  # steps further along
    assert train_mod.lr_factor(FamilyTrainConfig(steps=5), 5, 1e6) == 1.0  # constant
    with pytest.raises(ConfigError, match=r"train\.lr_schedule"):
        FamilyTrainConfig(lr_schedule="cosine")


def test_a_fit_uses_the_scheduled_rate(monkeypatch):
    from biovae.applications.variants.alignment import read_alignment
    from biovae.applications.variants.weights import sequence_weights
    from tests.applications.variants.test_family import SMALL
    from tests.conftest import FIXTURES

    aln = read_alignment(FIXTURES / "blat_ecolx_first40.a2m")
    w = sequence_weights(aln.codes, aln.gap, len(aln.alphabet))
    seen = []
    update = train_mod._update

    def spy(model, opt, batch, cfg, neff, step):
        seen.append([g["lr"] for g in opt.param_groups])
        return update(model, opt, batch, cfg, neff, step)

    monkeypatch.setattr(train_mod, "_update", spy)
    cfg = replace(SMALL.train, steps=8, lr=0.01, lr_schedule="linear", validation_fraction=0.0)
    train_mod.fit_family(aln.codes, w, len(aln.alphabet), SMALL.model, cfg)
    want = [0.01 * (1 - k / 8) for k in range(8)]
    assert [lrs[0] for lrs in seen] == pytest.approx(want)
    assert all(lrs[0] == lrs[1] for lrs in seen)  # every parameter group


def test_a_gpu_this_torch_does_not_see_is_a_config_error(monkeypatch):
    import numpy as np
    import torch

    from tests.applications.variants.test_family import SMALL

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    codes = np.zeros((4, 3), dtype=np.uint8)
    cfg = replace(SMALL.train, steps=1, device="cuda", validation_fraction=0.0)
    with pytest.raises(ConfigError, match=r"train\.device 'cuda'.*--device cpu"):
        train_mod.fit_family(codes, np.ones(4), 21, SMALL.model, cfg)
