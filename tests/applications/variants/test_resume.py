"""Checkpoints of a family fit: an interrupted (ensemble) fit resumed is the uninterrupted one,
finished members are not retrained, and resumes of other data or settings are refused."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from biovae.applications.variants import family, train
from biovae.applications.variants.alignment import read_alignment
from biovae.applications.variants.config import (
    FamilyModelConfig,
    FamilyTrainConfig,
    VariantsConfig,
)
from biovae.applications.variants.resume import FamilyCheckpoints, MemberCheckpoint
from biovae.errors import ConfigError, ModelFileError
from tests.conftest import FIXTURES

MUTANTS = ["V29A", "K30A:K32R", "H24A", "A42G"]


def _cfg(ensemble=2, bayesian=False, **train_kw) -> VariantsConfig:
    return VariantsConfig(
        model=FamilyModelConfig(
            n_latent=3,
            encoder_hidden=(32, 16),
            decoder_hidden=(8, 16),
            rank=4,
            group=4,
            bayesian=bayesian,
        ),
        # held-out sequences: the keeper's best weights and patience travel in the checkpoint
        train=FamilyTrainConfig(
            **{"steps": 40, "batch_size": 16, "eval_every": 10, "validation_fraction": 0.2}
            | train_kw
        ),
        ensemble=ensemble,
    )


@pytest.fixture(scope="module")
def aln():
    return read_alignment(FIXTURES / "blat_ecolx_first40.a2m")


def _interrupt_after(monkeypatch, member: str, step: int) -> list[tuple[str, int, bool]]:
    """Ctrl-C right after ``member``'s checkpoint of update ``step`` is written; returns the
    checkpoints written (folder name, update, finished)."""
    save, written = MemberCheckpoint.save, []

    def save_then_stop(self, model, opt, gen, state, best=None):
        save(self, model, opt, gen, state, best)
        written.append((self.path.name, state.step, state.finished))
        if self.path.name == member and state.step == step and not state.finished:
            raise KeyboardInterrupt

    monkeypatch.setattr(MemberCheckpoint, "save", save_then_stop)
    return written


def _count_updates(monkeypatch) -> list[int]:
    update, steps = train._update, []

    def counted(model, opt, batch, cfg, neff, step):
        steps.append(step)
        return update(model, opt, batch, cfg, neff, step)

    monkeypatch.setattr(train, "_update", counted)
    return steps


def _same(a: family.Family, b: family.Family) -> None:
    """Bit-identical members, histories (but wall time) and mutant scores."""
    for ma, mb in zip(a.members, b.members, strict=True):
        sa, sb = ma.state_dict(), mb.state_dict()
        assert sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)

    def timeless(h):
        return [{k: v for k, v in row.items() if k != "seconds"} for row in h]

    ha, hb = a.facts["history"], b.facts["history"]
    assert [timeless(h) for h in ha] == [timeless(h) for h in hb]
    sa, sb = a.score(MUTANTS, 4, 0), b.score(MUTANTS, 4, 0)
    assert np.isfinite(sa["score"][:2]).all()
    assert np.array_equal(sa["score"], sb["score"], equal_nan=True)


@pytest.mark.parametrize("bayesian", [False, True])
def test_an_interrupted_ensemble_resumes_to_the_uninterrupted_fit(
    aln, tmp_path, monkeypatch, bayesian
):
    cfg = _cfg(bayesian=bayesian)
    full = family.fit(aln, cfg)
    folder = tmp_path / "m.checkpoint"
    written = _interrupt_after(monkeypatch, "member1", 20)
    with pytest.raises(KeyboardInterrupt):
        family.fit(aln, cfg, checkpoints=FamilyCheckpoints(folder, every=10))
    assert written == [
        ("member0", 10, False),
        ("member0", 20, False),
        ("member0", 30, False),
        ("member0", 40, True),  # a finished member's final model
        ("member1", 10, False),
        ("member1", 20, False),
    ]
    monkeypatch.undo()
    steps = _count_updates(monkeypatch)
    resumed = family.fit(aln, cfg, checkpoints=FamilyCheckpoints(folder, every=10, resume=True))
    assert steps == list(range(21, 41))  # member 1's last 20 updates: member 0 is not retrained
    _same(full, resumed)


def test_checkpointing_leaves_the_fit_as_it_was(aln, tmp_path):
    cfg = _cfg(ensemble=1)
    plain = family.fit(aln, cfg)
    _same(plain, family.fit(aln, cfg, checkpoints=FamilyCheckpoints(tmp_path / "c", every=7)))


def test_a_member_stopped_early_resumes_past_its_stop(aln, tmp_path, monkeypatch):
    """Patience 2: the member stops at its second held-out evaluation without improvement in a
    row; the checkpoint after the first carries that count (and the best weights so far)."""
    cfg = _cfg(ensemble=1, patience=2, lr=0.05, steps=300)
    full = family.fit(aln, cfg)
    last = full.facts["history"][0][-1]["step"]
    assert last < 300  # stopped early
    _interrupt_after(monkeypatch, "member0", last - 10)
    with pytest.raises(KeyboardInterrupt):
        family.fit(aln, cfg, checkpoints=FamilyCheckpoints(tmp_path / "c", every=10))
    monkeypatch.undo()
    resumed = family.fit(aln, cfg, checkpoints=FamilyCheckpoints(tmp_path / "c", 10, True))
    _same(full, resumed)


def test_resumes_without_a_checkpoint_or_of_other_data_or_settings_are_refused(aln, tmp_path):
    folder = tmp_path / "c"
    with pytest.raises(ModelFileError, match=r"no checkpoint in .*run without --resume"):
        family.fit(aln, _cfg(ensemble=1), checkpoints=FamilyCheckpoints(folder, 10, True))
    family.fit(aln, _cfg(ensemble=1), checkpoints=FamilyCheckpoints(folder, every=10))
    others = {
        r"train\.lr \(0\.001 there, 0\.002 now\)": (aln, _cfg(ensemble=1, lr=0.002)),
        r"train\.steps": (aln, _cfg(ensemble=1, steps=50)),
        r"model\.n_latent \(3 there, 4 now\)": (aln, _latent(_cfg(ensemble=1), 4)),
        r"data \(": (dataclasses.replace(aln, codes=aln.codes[::-1].copy()), _cfg(ensemble=1)),
    }
    for message, (alignment, cfg) in others.items():
        with pytest.raises(ModelFileError, match=message + r".*only --device, --ensemble"):
            family.fit(alignment, cfg, checkpoints=FamilyCheckpoints(folder, 10, True))
    with pytest.raises(ConfigError, match="--checkpoint-every must be >= 0"):
        FamilyCheckpoints(folder, every=-1)


def test_a_resume_may_add_members(aln, tmp_path, monkeypatch):
    """Members are independent (member i: seed + i): a finished one-member fit resumed with
    --ensemble 2 loads member 1 and trains member 2 only, as the two-member fit would."""
    folder = tmp_path / "c"
    family.fit(aln, _cfg(ensemble=1), checkpoints=FamilyCheckpoints(folder, every=10))
    steps = _count_updates(monkeypatch)
    grown = family.fit(aln, _cfg(ensemble=2), checkpoints=FamilyCheckpoints(folder, 10, True))
    assert steps == list(range(1, 41))
    _same(family.fit(aln, _cfg(ensemble=2)), grown)


def _latent(cfg: VariantsConfig, k: int) -> VariantsConfig:
    return dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, n_latent=k))


def test_a_checkpoint_folder_with_other_files_is_refused_before_training(aln, tmp_path):
    folder = tmp_path / "c"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine")
    with pytest.raises(ModelFileError, match=r"holds 'notes\.txt'"):
        family.fit(aln, _cfg(ensemble=1), checkpoints=FamilyCheckpoints(folder, every=10))
    assert [p.name for p in folder.iterdir()] == ["notes.txt"]
