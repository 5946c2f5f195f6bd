"""``biovae structure fit --checkpoint-every N`` / ``--resume``: a killed fit resumed saves the
uninterrupted fit's model, the checkpoint goes once it is saved, and bad resumes are refused."""

from __future__ import annotations

import pytest

from biovae.training import loop
from tests.cli._run import run

pytest.importorskip("MDAnalysis", reason="needs the structure extra (MDAnalysis)")

FAST = ["--epochs", "4", "--hidden", "16", "--batch-size", "8", "--quiet"]


def _stop_after_checkpoint(monkeypatch, epoch: int) -> None:
    """Ctrl-C right after the checkpoint of ``epoch`` is written."""
    save = loop.save_checkpoint

    def save_then_stop(path, model, optimizer, generator, state, *rest):
        save(path, model, optimizer, generator, state, *rest)
        if state["epoch"] == epoch:
            raise KeyboardInterrupt

    monkeypatch.setattr(loop, "save_checkpoint", save_then_stop)


def test_a_killed_fit_resumes_to_the_uninterrupted_model(fixtures, tmp_path, capsys, monkeypatch):
    pdb = fixtures / "ubiquitin_2k39_ca_12.pdb"
    rc, _, _ = run(capsys, "structure", "fit", pdb, "--out", tmp_path / "full", *FAST)
    assert rc == 0 and not (tmp_path / "full.checkpoint").exists()
    out, every = tmp_path / "m", ["--checkpoint-every", "1"]
    _stop_after_checkpoint(monkeypatch, 2)
    rc, _, err = run(capsys, "structure", "fit", pdb, "--out", out, *FAST, *every)
    assert rc == 130 and len(err.strip().splitlines()) == 1 and not out.exists()
    assert err.startswith(f"interrupted; the checkpoint of epoch 2 is kept in {out}.checkpoint")
    monkeypatch.undo()
    rc, stdout, _ = run(capsys, "structure", "fit", pdb, "--out", out, *FAST, *every, "--resume")
    assert rc == 0 and stdout.strip() == str(out)
    assert not (tmp_path / "m.checkpoint").exists()  # removed once the model is saved
    full, resumed = ((p / "weights.safetensors").read_bytes() for p in (tmp_path / "full", out))
    assert resumed == full


def test_bad_resumes_are_one_line_errors(fixtures, tmp_path, capsys, monkeypatch):
    pdb, out = fixtures / "ubiquitin_2k39_ca_12.pdb", tmp_path / "m"
    rc, _, err = run(capsys, "structure", "fit", pdb, "--out", out, *FAST, "--resume")
    assert rc == 2 and err.count("\n") == 1 and not out.exists()
    assert f"--resume: no checkpoint at {out}.checkpoint; run once with --checkpoint-every N" in err
    _stop_after_checkpoint(monkeypatch, 1)
    rc, _, _ = run(capsys, "structure", "fit", pdb, "--out", out, *FAST, "--checkpoint-every", 1)
    assert rc == 130
    monkeypatch.undo()
    frames = tmp_path / "first6.pdb"  # other frames: another data fingerprint
    text = pdb.read_text()
    frames.write_text(text[: text.index("MODEL        7")] + "END\n")
    rc, _, err = run(capsys, "structure", "fit", frames, "--out", out, *FAST, "--resume")
    assert rc == 2 and err.count("\n") == 1 and not out.exists()
    assert "other data or settings: data (" in err and "or run without --resume" in err
    rc, _, err = run(capsys, "structure", "fit", pdb, "--out", out, *FAST, "--resume", "--lr", 0.01)
    assert rc == 2 and "train.lr (0.002 there, 0.01 now)" in err
    # only flags `structure fit` has (`biovae fit`'s refusal also names --stream)
    assert (
        "(only --epochs (config.train.epochs), --device (config.train.device) and "
        "--checkpoint-every "
        "(config.train.checkpoint_every) may change)"
    ) in err
    assert "--stream" not in err
    assert (tmp_path / "m.checkpoint").is_dir()  # kept for a resume that matches


def test_a_python_resume_past_the_epochs_names_the_config_field(fixtures, tmp_path):
    """ConformationVAE has no ``epochs=`` keyword; its refusal said '--epochs 1 (epochs=1)'."""
    import dataclasses

    from biovae import ConformationVAE
    from biovae.data.structure import read_structures
    from biovae.errors import ModelFileError
    from biovae.structure_config import STRUCTURE_DEFAULTS

    frames = read_structures(fixtures / "ubiquitin_2k39_ca_12.pdb")
    train = dataclasses.replace(STRUCTURE_DEFAULTS.train, epochs=2, checkpoint_every=1)
    cfg = dataclasses.replace(STRUCTURE_DEFAULTS, train=train)
    ConformationVAE(config=cfg, progress=False).fit(frames, checkpoint_dir=tmp_path / "c")
    fewer = dataclasses.replace(cfg, train=dataclasses.replace(train, epochs=1))
    with pytest.raises(ModelFileError) as refused:
        ConformationVAE(config=fewer, progress=False).fit(
            frames, checkpoint_dir=tmp_path / "c", resume=True
        )
    assert str(refused.value).endswith(
        "past --epochs 1 (config.train.epochs=1); resume with --epochs 2 "
        "(config.train.epochs=2) or more"
    )


def test_a_diverging_structure_fit_is_told_of_its_own_loss_flag(fixtures, tmp_path, capsys):
    """`biovae structure fit` has --loss, not --likelihood, which its remedy named."""
    pdb = fixtures / "ubiquitin_2k39_ca_12.pdb"
    rc, _, err = run(capsys, "structure", "fit", pdb, "--out", tmp_path / "m", *FAST, "--lr", 1e30)
    assert rc == 2 and err.count("\n") == 1 and "the loss became nan" in err
    assert "lower the learning rate --lr (config.train.lr), or try the other loss, --loss" in err
    assert "--likelihood" not in err
