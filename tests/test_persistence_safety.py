"""Saving a model folder is safe: an error or Ctrl-C at any point leaves the old model in place
and no temporary folders behind, other folders beside it are never deleted, and the saved files
get the modes the umask asks for (like any file the user creates)."""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path

import numpy as np
import pytest

from biovae import VAE
from biovae.applications.variants import family
from biovae.applications.variants.alignment import read_alignment
from biovae.applications.variants.config import (
    FamilyModelConfig,
    FamilyTrainConfig,
    VariantsConfig,
)
from biovae.config import FitConfig, ModelConfig, NetworkConfig, TrainConfig
from biovae.errors import ModelFileError
from biovae.training.checkpoint import check_checkpoint_dir
from tests.cli._run import run
from tests.conftest import interrupt_when_made

FILES = ("MODEL_CARD.md", "SHA256SUMS", "config.json", "metadata.json", "weights.safetensors")


@pytest.fixture(scope="module", params=["model", "variants"])
def saver(request):
    """A function saving a small fitted model (of 'biovae fit' or 'biovae variants fit')."""
    if request.param == "model":
        x = np.random.default_rng(0).normal(size=(40, 5)).astype(np.float32)
        cfg = FitConfig(
            model=ModelConfig(n_latent=2, network=NetworkConfig(hidden=(8,))),
            train=TrainConfig(epochs=1, batch_size=16, seed=0),
        )
        est = VAE(config=cfg).fit(x)
        return est.save
    from tests.conftest import FIXTURES

    aln = read_alignment(FIXTURES / "blat_ecolx_first40.a2m")
    small = VariantsConfig(
        model=FamilyModelConfig(
            n_latent=2, encoder_hidden=(8, 8), decoder_hidden=(4, 8), rank=2, group=4
        ),
        train=FamilyTrainConfig(steps=2, batch_size=8),
    )
    fam = family.fit(aln, small)
    return lambda path: family.save(path, fam)


def contents(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


@pytest.mark.parametrize("error", [KeyboardInterrupt, OSError])
def test_a_failure_between_the_renames_keeps_the_old_model(saver, tmp_path, monkeypatch, error):
    saver(tmp_path / "m")
    (tmp_path / "m" / "metadata.json").write_text('{"marker": 1}')  # to tell old from new
    before = contents(tmp_path / "m")
    real, calls = os.replace, []

    def replace(src, dst):  # the second rename (new folder into place) fails
        calls.append((src, dst))
        if len(calls) == 2:
            raise error("interrupted")
        return real(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(error):
        saver(tmp_path / "m")
    monkeypatch.undo()
    assert len(calls) >= 2
    assert contents(tmp_path / "m") == before
    assert [p.name for p in tmp_path.iterdir()] == ["m"]


def test_an_interrupt_right_after_the_temporary_folder_is_made_leaves_nothing(
    saver, tmp_path, monkeypatch
):
    interrupt_when_made(monkeypatch, ".m")  # as soon as the temporary folder exists
    with pytest.raises(KeyboardInterrupt):
        saver(tmp_path / "m")
    monkeypatch.undo()
    assert list(tmp_path.iterdir()) == []


def test_leftovers_of_a_killed_save_are_removed_but_never_a_users_folders(saver, tmp_path):
    mine = tmp_path / ".m.old"  # the fixed name earlier versions used, deleted on every save
    mine.mkdir()
    (mine / "notes.txt").write_text("mine")
    lookalike = tmp_path / ".m.tmp-0123abcd"  # a leftover's name, but holding a user's file
    lookalike.mkdir()
    (lookalike / "notes.txt").write_text("mine")
    leftover = tmp_path / ".m.old-89abcdef"  # what a save killed before cleaning up leaves
    leftover.mkdir()
    (leftover / "config.json").write_text("{}")
    running = tmp_path / ".m.tmp-fedcba98"  # a save still writing, in another process
    running.mkdir()
    (running / "config.json").write_text("{}")
    an_hour_ago = time.time() - 3600  # leftovers are old; a running save's folder is not
    for path in (leftover / "config.json", leftover):
        os.utime(path, (an_hour_ago, an_hour_ago))
    saver(tmp_path / "m")
    saver(tmp_path / "m")
    assert (mine / "notes.txt").read_text() == "mine"
    assert (lookalike / "notes.txt").read_text() == "mine"
    assert not leftover.exists() and (running / "config.json").exists()
    names = [".m.old", ".m.tmp-0123abcd", ".m.tmp-fedcba98", "m"]
    assert sorted(p.name for p in tmp_path.iterdir()) == names


@pytest.mark.parametrize("umask", [0o022, 0o002, 0o077])
def test_saved_folders_and_files_get_the_umasks_modes(saver, tmp_path, umask):
    old = os.umask(umask)
    try:
        os.mkdir(tmp_path / "probe")  # what any program would create under this umask
        (tmp_path / "probe" / "f").write_text("")
        saver(tmp_path / "new")
        shared = tmp_path / "shared"
        shared.mkdir(mode=0o755)
        os.chmod(shared, 0o755)
        saver(shared)  # refitting into an existing folder
    finally:
        os.umask(old)
    want_dir = stat.S_IMODE((tmp_path / "probe").stat().st_mode)
    want_file = stat.S_IMODE((tmp_path / "probe" / "f").stat().st_mode)
    assert (want_dir, want_file) == (0o777 & ~umask, 0o666 & ~umask)
    for folder in (tmp_path / "new", shared):
        assert stat.S_IMODE(folder.stat().st_mode) == want_dir
        assert {p.name: stat.S_IMODE(p.stat().st_mode) for p in folder.iterdir()} == {
            name: want_file for name in FILES
        }


@pytest.mark.parametrize("where", ["after both renames", "while deleting the old folder"])
def test_an_interrupt_after_the_new_folder_is_in_place_leaves_no_old_folder(
    tmp_path, monkeypatch, where
):
    import os
    import shutil

    from biovae.data import folders

    dst, src = tmp_path / "m", tmp_path / "new"
    for folder, text in ((dst, "old"), (src, "new")):
        folder.mkdir()
        (folder / "f").write_text(text)
    real_replace, real_rmtree, calls = os.replace, shutil.rmtree, []

    def replace(a, b):
        real_replace(a, b)
        calls.append(b)
        if where == "after both renames" and len(calls) == 2:
            raise KeyboardInterrupt

    def rmtree(path, **kw):
        calls.append(path)
        if where == "while deleting the old folder" and len(calls) == 3:
            real_rmtree(next(Path(path).iterdir()), **kw)  # partly deleted, then the signal
            raise KeyboardInterrupt
        real_rmtree(path, **kw)

    monkeypatch.setattr(folders.os, "replace", replace)
    monkeypatch.setattr(folders.shutil, "rmtree", rmtree)
    with pytest.raises(KeyboardInterrupt):
        folders.replace_dir(src, dst)
    assert (dst / "f").read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]


@pytest.mark.parametrize(
    "text",
    [
        "Error while serializing: I/O error: File too large (os error 27)",  # safetensors 0.8
        'Error while serializing: IoError(Os { code: 27, kind: FileTooLarge, message: "File '
        'too large" })',  # safetensors 0.4.0, the oldest pyproject allows
    ],
)
def test_a_write_error_of_safetensors_is_the_oserror_it_is(tmp_path, monkeypatch, text):
    import torch
    from safetensors import SafetensorError

    from biovae import persistence

    def full(*args, **kwargs):
        raise SafetensorError(text)

    monkeypatch.setattr(persistence, "save_file", full)
    with pytest.raises(OSError) as info:
        persistence.write_weights(tmp_path / "w.safetensors", {"a": torch.zeros(2)})
    assert info.value.errno == 27 and not isinstance(info.value, SafetensorError)


def test_a_folder_named_like_a_model_file_is_refused_not_deleted(saver, tmp_path):
    # the old folder was deleted whole, and the user's files in 'config.json/' with it
    out = tmp_path / "m"
    saver(out)
    (out / "config.json").unlink()
    (out / "config.json").mkdir()
    (out / "config.json" / "notes.txt").write_text("mine")
    with pytest.raises(ModelFileError, match=r"m holds 'config.json/', which is not part of"):
        saver(out)
    assert (out / "config.json" / "notes.txt").read_text() == "mine"
    (tmp_path / "ckpt" / "state.json").mkdir(parents=True)
    with pytest.raises(ModelFileError, match=r"holds 'state.json/', which checkpointing would"):
        check_checkpoint_dir(tmp_path / "ckpt")


@pytest.mark.parametrize("out", ["../link", ".", "../work"])
def test_a_link_to_nothing_or_the_current_folder_is_refused_before_training(
    tmp_path, monkeypatch, capsys, out
):
    # a link to nothing: trained, then "work/.link.tmp-…: not a directory"; the current folder
    # as '.': trained, then a ValueError traceback; by its name: saved, the shell left in a
    # deleted folder
    np.save(tmp_path / "x.npy", np.random.default_rng(0).normal(size=(40, 5)))
    (tmp_path / "link").symlink_to(tmp_path / "nowhere")
    (tmp_path / "work").mkdir()
    monkeypatch.chdir(tmp_path / "work")
    rc, _, err = run(capsys, "fit", "../x.npy", "--out", out, "--epochs", "1", "--latent", "2")
    assert rc == 2 and len(err.strip().splitlines()) == 1, err  # before 'read 40 records'
    assert "is a link to" in err or "is the current folder" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link", "work", "x.npy"]
    assert list((tmp_path / "work").iterdir()) == []
    with pytest.raises(ModelFileError, match=r"(is a link to|is the current folder)"):
        check_checkpoint_dir(Path(out))


def test_the_files_reach_the_disk_before_the_folder_takes_the_old_ones_place(
    saver, tmp_path, monkeypatch
):
    # nothing was flushed: a machine crash soon after a refit could find the new folder's files
    # empty, the old model already deleted
    real_fsync, real_replace, synced, unsynced = os.fsync, os.replace, set(), []

    def fsync(fd):
        real_fsync(fd)
        synced.add(os.fstat(fd).st_ino)

    def replace(src, dst):
        if Path(src).name.startswith(".m.tmp-"):  # the new folder taking its place
            unsynced.append({p.stat().st_ino for p in (Path(src), *Path(src).iterdir())} - synced)
        real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    saver(tmp_path / "m")
    saver(tmp_path / "m")
    assert unsynced == [set(), set()]


def test_a_save_overtaken_by_another_runs_says_so_and_keeps_that_runs_folder(
    saver, tmp_path, monkeypatch
):
    # it said ".m.tmp-…: directory not empty; check the path and its permissions"
    saver(tmp_path / "m")
    real = os.replace

    def replace(src, dst):
        if Path(src).name.startswith(".m.tmp-"):  # another run's folder lands first
            (tmp_path / "m").mkdir()
            (tmp_path / "m" / "config.json").write_text("theirs")
        real(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(ModelFileError, match=r"m was written by another run while this one"):
        saver(tmp_path / "m")
    monkeypatch.undo()
    assert contents(tmp_path / "m") == {"config.json": b"theirs"}
    assert [p.name for p in tmp_path.iterdir()] == ["m"]
