"""Family fits show progress over their updates (a member at a time), and the command line's
``--quiet`` turns it off."""

from __future__ import annotations

from dataclasses import replace
from typing import ClassVar

from biovae.applications.variants import family
from biovae.applications.variants import train as train_mod
from biovae.applications.variants.alignment import read_alignment
from biovae.cli.main import main
from tests.applications.variants.test_family import SMALL
from tests.conftest import FIXTURES

ALIGNMENT = FIXTURES / "blat_ecolx_first40.a2m"


class _Recorder:
    bars: ClassVar[list[_Recorder]] = []

    def __init__(self, total, initial=0, enabled=True, *, unit="epoch", desc="training"):
        self.total, self.enabled, self.unit, self.desc = total, enabled, unit, desc
        self.steps, self.shown, self.closed = 0, [], False
        _Recorder.bars.append(self)

    def update(self, row=None, n=1):
        self.steps += n
        if row is not None:
            self.shown.append(row)

    def close(self):
        self.closed = True


def test_each_member_shows_its_updates_and_losses(monkeypatch):
    _Recorder.bars = []
    monkeypatch.setattr(train_mod, "Progress", _Recorder)
    cfg = replace(SMALL, ensemble=2, train=replace(SMALL.train, steps=200, eval_every=100))
    family.fit(read_alignment(ALIGNMENT), cfg, progress=True)
    assert [b.desc for b in _Recorder.bars] == ["member 1/2", "member 2/2"]
    for bar in _Recorder.bars:
        assert bar.enabled and bar.closed and bar.unit == "update"
        assert bar.total == 200 and bar.steps == 200
        assert [set(r) for r in bar.shown] == [{"elbo", "val_elbo"}] * 2


def test_the_bar_keeps_the_elbo_between_its_updates(monkeypatch):
    _Recorder.bars = []
    monkeypatch.setattr(train_mod, "Progress", _Recorder)
    cfg = replace(SMALL, train=replace(SMALL.train, steps=200, eval_every=50))
    family.fit(read_alignment(ALIGNMENT), cfg, progress=True)
    (bar,) = _Recorder.bars
    both = {"elbo", "val_elbo"}
    assert [set(r) for r in bar.shown] == [{"val_elbo"}, both, both, both]


def test_quiet_turns_the_bar_off(monkeypatch, tmp_path):
    _Recorder.bars = []
    monkeypatch.setattr(train_mod, "Progress", _Recorder)
    args = ["variants", "fit", str(ALIGNMENT), "--steps", "20", "--latent", "2"]
    assert main([*args, "--out", str(tmp_path / "a")]) == 0
    assert main([*args, "--quiet", "--out", str(tmp_path / "b")]) == 0
    assert [b.enabled for b in _Recorder.bars] == [True, False]
