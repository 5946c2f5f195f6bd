"""A save killed outright (``kill -9``, a crash of the machine) never costs the model it was
replacing: killed between its two renames it leaves the old folder aside and none in its place,
and the next load (or save, or checkpoint resume) puts it back. Leftover temporary folders and
files of killed writes are never taken for a model, never block a save, and are deleted once
stale, never a user's look-alike."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
import warnings
from pathlib import Path

import numpy as np
import pytest

from biovae import VAE, load_model, persistence
from biovae.applications.variants import family
from biovae.config import FitConfig, ModelConfig, NetworkConfig, TrainConfig
from biovae.data.writers import write_table
from biovae.errors import ModelFileError
from tests.cli._run import run

X = np.random.default_rng(0).normal(size=(40, 5)).astype(np.float32)
SRC = Path(persistence.__file__).parents[1]
#: a save of ``argv[1]`` (config.json "new") that SIGKILLs itself right after the old folder
#: was renamed aside, before the new one is renamed in: no ``finally`` runs
KILLED_SAVE = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    from biovae.data import folders
    real, calls = os.replace, []
    def replace(src, dst):
        calls.append(dst)
        if len(calls) == 2:
            os.kill(os.getpid(), signal.SIGKILL)
        real(src, dst)
    folders.os.replace = replace
    names = ("config.json", "metadata.json", "weights.safetensors", "MODEL_CARD.md", "SHA256SUMS")
    folders.write_dir(Path(sys.argv[1]), lambda t: (t / "config.json").write_text("new"), names)
    """
)


@pytest.fixture(scope="module")
def saved(tmp_path_factory) -> Path:
    cfg = FitConfig(
        model=ModelConfig(n_latent=2, network=NetworkConfig(hidden=(8,))),
        train=TrainConfig(epochs=1, batch_size=16, seed=0),
    )
    return VAE(config=cfg).fit(X).save(tmp_path_factory.mktemp("m") / "m")


def contents(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def set_aside(folder: Path, name: str = ".m.old-0123abcd", age: float = 3600) -> Path:
    """The state a save killed between its renames leaves: ``folder`` renamed aside (its files
    as old as ``age`` seconds)."""
    aside = folder.with_name(name)
    os.replace(folder, aside)
    then = time.time() - age
    for path in (*aside.iterdir(), aside):
        os.utime(path, (then, then))
    return aside


def test_a_save_killed_between_the_renames_is_undone_by_the_next_load(saved, tmp_path, capsys):
    out = tmp_path / "m"
    load_model(saved).save(out)
    before = contents(out)
    env = {**os.environ, "PYTHONPATH": f"{SRC}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    killed = subprocess.run([sys.executable, "-c", KILLED_SAVE, str(out)], env=env, check=False)
    assert killed.returncode == -9
    aside = [p for p in tmp_path.iterdir() if p.name.startswith(".m.old-")]
    assert not out.exists() and len(aside) == 1  # no model at m: only the aside copy
    np.save(tmp_path / "x.npy", X)
    rc, _, err = run(capsys, "embed", out, tmp_path / "x.npy", "--out", tmp_path / "z.csv")
    assert rc == 0, err
    assert err.count("biovae: warning:") == 1 and f"aside as {aside[0].name}" in err
    assert contents(out) == before and not aside[0].exists()
    with warnings.catch_warnings(record=True) as record:  # an ordinary load says nothing
        warnings.simplefilter("always")
        load_model(out)
    assert not record


def test_a_save_after_a_killed_one_keeps_the_old_model_if_it_fails_too(
    saved, tmp_path, monkeypatch
):
    # the stale aside copy was deleted as a leftover before the new files were written
    out = tmp_path / "m"
    load_model(saved).save(out)
    before = contents(out)
    set_aside(out)
    model = load_model(saved)

    def full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(persistence, "write_weights", full)
    with pytest.raises(OSError, match="No space left"):
        model.save(out)
    monkeypatch.undo()
    assert contents(out) == before
    assert [p.name for p in tmp_path.iterdir()] == ["m"]
    model.save(out)
    assert [p.name for p in tmp_path.iterdir()] == ["m"]


def test_the_newest_aside_copy_is_restored_and_never_a_users_folder(saved, tmp_path):
    out = tmp_path / "m"
    mine = tmp_path / ".m.old-89abcdef"  # an aside name, but holding a user's file
    mine.mkdir()
    (mine / "notes.txt").write_text("mine")
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        with pytest.raises(ModelFileError, match=r"missing config\.json"):
            load_model(out)  # nothing of ours aside: a plain error, the folder left alone
    assert not record and not out.exists()
    first = set_aside(load_model(saved).save(out), ".m.old-00000000")
    time.sleep(0.05)  # renamed aside later: the newer copy
    newer = load_model(saved).save(tmp_path / "n")
    (newer / "MODEL_CARD.md").write_text("newer")
    second = set_aside(newer, ".m.old-11111111")
    with pytest.warns(UserWarning, match=r"aside as \.m\.old-11111111"):
        load_model(out)
    assert (out / "MODEL_CARD.md").read_text() == "newer"
    assert first.exists() and not second.exists()
    assert (mine / "notes.txt").read_text() == "mine"
    load_model(saved).save(out)  # the other copy is a stale leftover now; the user's stays
    assert sorted(p.name for p in tmp_path.iterdir()) == [".m.old-89abcdef", "m"]


def test_a_family_model_and_a_linked_folder_are_restored_too(saved, tmp_path):
    from biovae.applications.variants.alignment import read_alignment
    from biovae.applications.variants.config import (
        FamilyModelConfig,
        FamilyTrainConfig,
        VariantsConfig,
    )
    from tests.conftest import FIXTURES

    small = VariantsConfig(
        model=FamilyModelConfig(
            n_latent=2, encoder_hidden=(8, 8), decoder_hidden=(4, 8), rank=2, group=4
        ),
        train=FamilyTrainConfig(steps=2, batch_size=8),
    )
    fam = family.fit(read_alignment(FIXTURES / "blat_ecolx_first40.a2m"), small)
    set_aside(family.save(tmp_path / "f", fam), ".f.old-0123abcd")
    with pytest.warns(UserWarning, match=r"aside as \.f\.old-0123abcd"):
        family.load(tmp_path / "f")
    target, link = tmp_path / "v1", tmp_path / "current"  # a link to the model folder
    load_model(saved).save(target)
    link.symlink_to(target)
    set_aside(target, ".v1.old-0123abcd")
    with pytest.warns(UserWarning, match=r"aside as \.v1\.old-0123abcd"):
        load_model(link)
    assert link.is_symlink() and (target / "config.json").is_file()


def test_stale_temporary_files_of_killed_writes_are_deleted_never_others(tmp_path):
    hour_ago = time.time() - 3600
    stale = tmp_path / ".z.0123abcd.tmp.csv"  # what a write of z.csv killed outright leaves
    fresh = tmp_path / ".z.89abcdef.tmp.csv"  # a write of z.csv still running elsewhere
    other = tmp_path / ".y.0123abcd.tmp.csv"  # another output's
    mine = tmp_path / ".z.notes.tmp.csv"  # not a name biovae makes
    folder = tmp_path / ".z.fedcba98.tmp.csv"  # a folder is never ours
    folder.mkdir()
    for path in (stale, fresh, other, mine):
        path.write_text("half")
    for path in (stale, other, mine, folder):
        os.utime(path, (hour_ago, hour_ago))
    write_table(tmp_path / "z.csv", ["a"], {"v": np.ones(1)})
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == sorted([fresh.name, other.name, mine.name, folder.name, "z.csv"])


def test_a_checkpoint_left_aside_by_a_killed_checkpointing_is_resumed(tmp_path):
    def vae(epochs: int) -> VAE:
        train = TrainConfig(epochs=epochs, batch_size=16, seed=0, checkpoint_every=1)
        return VAE(config=FitConfig(model=ModelConfig(n_latent=2), train=train))

    full = vae(2).fit(X, checkpoint_dir=tmp_path / "a")  # never interrupted
    vae(1).fit(X, checkpoint_dir=tmp_path / "c")
    set_aside(tmp_path / "c", ".c.old-0123abcd")  # killed while replacing that checkpoint
    resumed = vae(2).fit(X, checkpoint_dir=tmp_path / "c", resume=True)
    np.testing.assert_array_equal(resumed.transform(X), full.transform(X))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "c"]
