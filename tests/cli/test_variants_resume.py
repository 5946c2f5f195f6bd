"""``biovae variants fit --checkpoint-every N`` / ``--resume``: a killed fit resumed saves the
uninterrupted fit's model, the checkpoint goes once it is saved, and bad resumes are refused."""

from __future__ import annotations

import pytest

from biovae.applications.variants.resume import MemberCheckpoint
from tests.cli._run import run
from tests.conftest import FIXTURES

SMALL = ["--latent", "3", "--steps", "30", "--batch-size", "16", "--quiet", "--ensemble", "2"]


@pytest.fixture
def config(tmp_path):
    toml = tmp_path / "small.toml"
    toml.write_text("[model]\nencoder_hidden = [32]\ndecoder_hidden = [8, 16]\nrank = 4\n")
    return ["--config", toml]


def _fit(capsys, out, *flags):
    return run(capsys, "variants", "fit", FIXTURES / "blat_ecolx_first40.a2m", "--out", out, *flags)


def _stop_at(monkeypatch, member: str, step: int) -> None:
    """Ctrl-C right after ``member``'s checkpoint of update ``step`` is written."""
    save = MemberCheckpoint.save

    def save_then_stop(self, model, opt, gen, state, best=None):
        save(self, model, opt, gen, state, best)
        if self.path.name == member and state.step == step:
            raise KeyboardInterrupt

    monkeypatch.setattr(MemberCheckpoint, "save", save_then_stop)


def test_a_killed_fit_resumes_to_the_uninterrupted_model(tmp_path, capsys, monkeypatch, config):
    rc, _, _ = _fit(capsys, tmp_path / "full", *SMALL, *config)
    assert rc == 0
    _stop_at(monkeypatch, "member1", 20)
    out, every = tmp_path / "m", ["--checkpoint-every", "10"]
    rc, _, err = _fit(capsys, out, *SMALL, *config, *every)
    assert rc == 130 and len(err.strip().splitlines()) == 1 and not out.exists()
    assert err.startswith(
        "interrupted; the checkpoint (member 1 finished, member 2 at update 20) is kept in "
        f"{out}.checkpoint: rerun the same command with --resume"
    )
    monkeypatch.undo()
    rc, stdout, _ = _fit(capsys, out, *SMALL, *config, *every, "--resume")
    assert rc == 0 and stdout.strip() == str(out)
    assert not (tmp_path / "m.checkpoint").exists()  # removed once the model is saved
    full, resumed = (
        p.joinpath("weights.safetensors").read_bytes() for p in (tmp_path / "full", out)
    )
    assert resumed == full
    mutants = tmp_path / "mutants.csv"
    mutants.write_text("mutant\nV29A\nK30A:K32R\n")
    scores = []
    for model in ("full", "m"):
        table = tmp_path / f"{model}.csv"
        rc, _, _ = run(
            capsys,
            "variants",
            "score",
            tmp_path / model,
            "--mutations",
            mutants,
            "--out",
            table,
            "--samples",
            4,
        )
        assert rc == 0
        scores.append(table.read_text())
    assert scores[0] == scores[1]


def test_bad_resumes_are_one_line_errors(tmp_path, capsys, monkeypatch, config):
    out = tmp_path / "m"
    rc, _, err = _fit(capsys, out, *SMALL, *config, "--resume")
    assert rc == 2 and err.count("\n") == 1
    assert f"--resume: no checkpoint at {out}.checkpoint; run once with --checkpoint-every N" in err
    rc, _, err = _fit(capsys, out, *SMALL, *config, "--checkpoint-every", "-1")
    assert rc == 2 and "--checkpoint-every must be >= 0" in err and not out.exists()
    _stop_at(monkeypatch, "member0", 10)
    rc, _, _ = _fit(capsys, out, *SMALL, *config, "--checkpoint-every", "10")
    assert rc == 130
    monkeypatch.undo()
    rc, _, err = _fit(capsys, out, *SMALL, *config, "--resume", "--lr", "0.01")
    assert rc == 2 and err.count("\n") == 1 and not out.exists()
    assert "other data or settings: train.lr (0.001 there, 0.01 now)" in err
    assert "or run without --resume" in err and (tmp_path / "m.checkpoint" / "member0").is_dir()
