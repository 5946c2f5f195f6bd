"""An interrupted or resumed ``biovae fit``: what it says, what it leaves, what it refuses."""

from __future__ import annotations

import pytest

from biovae.cli import main as cli_main
from biovae.training import loop
from tests.cli._run import run

FAST = ["--epochs", "4", "--hidden", "8", "--latent", "2", "--quiet", "--patience", "0"]


def _stop_after_checkpoint(monkeypatch, epochs: int, signal=KeyboardInterrupt) -> None:
    """Ctrl-C (or SIGTERM) right after the checkpoint of epoch ``epochs`` is written."""
    save = loop.save_checkpoint

    def save_then_stop(path, model, optimizer, generator, state, *rest):
        save(path, model, optimizer, generator, state, *rest)
        if state["epoch"] == epochs:
            raise signal

    monkeypatch.setattr(loop, "save_checkpoint", save_then_stop)


@pytest.mark.parametrize(
    ("signal", "word", "status"),
    [(KeyboardInterrupt, "interrupted", 130), (cli_main._Terminated, "terminated", 143)],
)
def test_an_interrupted_fit_says_which_checkpoint_is_kept_and_how_to_resume(
    fixtures, tmp_path, capsys, monkeypatch, signal, word, status
):
    data, out = fixtures / "crc_abundance_60x50.tsv", tmp_path / "m"
    _stop_after_checkpoint(monkeypatch, 2, signal)
    rc, _, err = run(capsys, "fit", data, "--out", out, "--checkpoint-every", 1, *FAST)
    assert rc == status and len(err.strip().splitlines()) == 1
    assert err.startswith(f"{word}; the checkpoint of epoch 2 is kept in {out}.checkpoint")
    assert "--resume" in err and not out.exists()  # no partial model folder
    monkeypatch.undo()
    rc, _, _ = run(capsys, "fit", data, "--out", out, "--checkpoint-every", 1, *FAST, "--resume")
    assert rc == 0 and (out / "config.json").is_file() and not (tmp_path / "m.checkpoint").exists()


def test_an_interrupted_fit_without_a_checkpoint_says_so(fixtures, tmp_path, capsys, monkeypatch):
    data, out = fixtures / "crc_abundance_60x50.tsv", tmp_path / "m"

    def stop(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(loop, "_train_epoch", stop)
    rc, _, err = run(capsys, "fit", data, "--out", out, *FAST)
    assert rc == 130 and "nothing was saved; add --checkpoint-every N" in err
    rc, _, err = run(capsys, "fit", data, "--out", out, "--checkpoint-every", 3, *FAST)
    assert rc == 130 and "no checkpoint was written yet (the first comes after epoch 3)" in err
    assert not out.exists() and not (tmp_path / "m.checkpoint").exists()


def test_resume_on_pca_is_refused(fixtures, tmp_path, capsys):
    data = fixtures / "crc_abundance_60x50.tsv"
    rc, _, err = run(capsys, "fit", data, "--model", "pca", "--resume", "--out", tmp_path / "p")
    assert rc == 2 and "--resume has no effect on --model pca" in err
    assert not (tmp_path / "p").exists()
