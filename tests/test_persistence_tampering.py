"""An edited or damaged model folder is a one-line error naming the file (exit status 2 from a
command), never a traceback, gigabytes allocated, or a silently different model: weights of
another dtype, a config.json asking for sizes no weights file holds, JSON nested too deeply,
damaged entries of metadata.json, and the same for the folders of family (variants) models."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from biovae import VAE, load_model
from biovae.applications.variants import family
from biovae.applications.variants.alignment import read_alignment
from biovae.applications.variants.config import (
    FamilyModelConfig,
    FamilyTrainConfig,
    VariantsConfig,
)
from biovae.config import FitConfig, ModelConfig, NetworkConfig, TrainConfig
from biovae.errors import ConfigError, ModelFileError
from tests.cli._run import run
from tests.conftest import FIXTURES

X = np.random.default_rng(0).normal(size=(40, 5)).astype(np.float32)


@pytest.fixture(scope="module")
def saved(tmp_path_factory) -> Path:
    cfg = FitConfig(
        model=ModelConfig(n_latent=2, network=NetworkConfig(hidden=(8,))),
        train=TrainConfig(epochs=1, batch_size=16, seed=0),
    )
    return VAE(config=cfg).fit(X).save(tmp_path_factory.mktemp("m") / "vae")


@pytest.fixture(scope="module")
def family_saved(tmp_path_factory) -> Path:
    small = VariantsConfig(
        model=FamilyModelConfig(
            n_latent=2, encoder_hidden=(8, 8), decoder_hidden=(4, 8), rank=2, group=4
        ),
        train=FamilyTrainConfig(steps=2, batch_size=8),
    )
    fam = family.fit(read_alignment(FIXTURES / "blat_ecolx_first40.a2m"), small)
    return family.save(tmp_path_factory.mktemp("f") / "fam", fam)


def copy(folder: Path, tmp_path: Path) -> Path:
    """A copy of a model folder without the weights' digest and SHA256SUMS (as saved by earlier
    versions), so that edited files reach the checks after them."""
    out = tmp_path / folder.name
    out.mkdir()
    for p in folder.iterdir():
        if p.name != "SHA256SUMS":
            (out / p.name).write_bytes(p.read_bytes())
    edit_json(out / "metadata.json", lambda m: m.pop("weights_sha256", None))
    return out


def edit_json(path: Path, edit) -> None:
    data = json.loads(path.read_text())
    edit(data)
    path.write_text(json.dumps(data))


def edit_weights(folder: Path, edit) -> None:
    path = folder / "weights.safetensors"
    weights = load_file(str(path))
    edit(weights)
    save_file(weights, str(path))


def one_line_error(capsys, folder: Path, tmp_path: Path) -> str:
    """``biovae embed``'s error on ``folder``: exit status 2, one line, nothing written."""
    np.save(tmp_path / "x.npy", X)
    rc, _, err = run(capsys, "embed", folder, tmp_path / "x.npy", "--out", tmp_path / "z.csv")
    assert rc == 2 and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "z.csv").exists()
    return err


@pytest.mark.parametrize("dtype", [torch.float16, torch.int64])
def test_weights_of_another_dtype_are_refused_not_cast(saved, tmp_path, dtype, capsys):
    # load_state_dict copied them into the float32 model: int weights loaded truncated
    folder = copy(saved, tmp_path)
    edit_weights(folder, lambda w: w.update({k: v.to(dtype) for k, v in w.items()}))
    with pytest.raises(ConfigError, match=rf"tensor '.*' is {dtype} .* has torch.float32"):
        load_model(folder)
    assert "weights.safetensors" in one_line_error(capsys, folder, tmp_path)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda c: c["model"].update(n_latent=10**30), r"config.json builds no model"),
        (lambda c: c["model"].update(kind="ssvae"), r"needs at least two label levels"),
        # 40 GB of float32 were allocated (and initialised) before the weights were compared
        (lambda c: c["model"]["network"].update(hidden=[10**5, 10**5]), r"is missing"),
    ],
)
def test_a_config_asking_for_another_model_is_refused_before_it_is_built(
    saved, tmp_path, edit, message, capsys
):
    folder = copy(saved, tmp_path)
    edit_json(folder / "config.json", edit)
    with pytest.raises(ConfigError, match=message):
        load_model(folder)
    one_line_error(capsys, folder, tmp_path)


def test_an_unknown_likelihood_names_config_json(saved, tmp_path, capsys):
    folder = copy(saved, tmp_path)
    edit_json(folder / "config.json", lambda c: c["model"]["likelihood"].update(name="nope"))
    with pytest.raises(ModelFileError, match=rf"^{folder}/config.json: unknown likelihood 'nope'"):
        load_model(folder)


@pytest.mark.parametrize("name", ["config.json", "metadata.json"])
def test_json_nested_too_deeply_is_one_line(saved, tmp_path, name, capsys):
    folder = copy(saved, tmp_path)
    (folder / name).write_text("[" * 100_000 + "]" * 100_000)  # a RecursionError in json
    with pytest.raises(ModelFileError, match=rf"{name}: not valid JSON \(nested too deeply\)"):
        load_model(folder)
    one_line_error(capsys, folder, tmp_path)


@pytest.mark.parametrize("mapping", ["x", {"levels_added": 3}, {"reference_n_train": 1}])
def test_a_damaged_mapping_entry_is_refused(saved, tmp_path, mapping):
    # it was taken as it was, and saving the loaded model (its card) crashed
    folder = copy(saved, tmp_path)
    edit_json(folder / "metadata.json", lambda m: m.update(mapping=mapping))
    with pytest.raises(ModelFileError, match=r"metadata.json: the 'mapping' entry is damaged"):
        load_model(folder)


def test_saving_through_a_link_to_a_model_folder_replaces_the_folder_and_keeps_the_link(
    saved, tmp_path
):
    # the link was renamed aside, a folder took its place and the renamed link stayed behind
    target, link = tmp_path / "v1", tmp_path / "current"
    load_model(saved).save(target)
    link.symlink_to(target)
    (target / "metadata.json").write_text('{"marker": 1}')
    load_model(saved).save(link)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["current", "v1"]
    assert link.is_symlink() and "marker" not in (target / "metadata.json").read_text()
    load_model(link)


def _member_weight(w: dict) -> str:
    return sorted(k for k in w if k.startswith("member0."))[0]


@pytest.mark.parametrize(
    ("edit_w", "edit_m", "message"),
    [
        (
            lambda w: w.update({_member_weight(w): w[_member_weight(w)].long()}),
            None,
            r"member 1 do not match config.json \(tensor '.*' is torch.int64",
        ),
        (
            lambda w: w.update({_member_weight(w): torch.full_like(w[_member_weight(w)], np.nan)}),
            None,
            r"weights.safetensors: tensor 'member0\..*' holds NaN",
        ),
        (lambda w: w.update(extra=torch.zeros(1)), None, r"tensor 'extra' is not part of"),
        (None, lambda m: m.update(alphabet=5), r"metadata.json: the 'alphabet' entry is damaged"),
        (None, lambda m: m["focus"].__setitem__(0, 300), r"letter codes outside 0–20"),
        (None, lambda m: m.update(positions=5), r"'positions' entries are not lists"),
        (None, lambda m: m.update(neff="x"), r"the 'neff' entry is damaged"),
        (None, lambda m: m.update(format_version=2), r"format_version 2 is not one this biovae"),
    ],
)
def test_a_damaged_family_model_folder_is_one_line(
    family_saved, tmp_path, edit_w, edit_m, message, capsys
):
    folder = copy(family_saved, tmp_path)
    if edit_w:
        edit_weights(folder, edit_w)
    if edit_m:
        edit_json(folder / "metadata.json", edit_m)
    with pytest.raises(ModelFileError, match=message):
        family.load(folder)
    (tmp_path / "m.csv").write_text("mutant\nV29A\n")
    argv = ["variants", "score", folder, "--mutations", tmp_path / "m.csv", "--out", tmp_path / "s"]
    rc, _, err = run(capsys, *argv, "--samples", "2")
    assert rc == 2 and len(err.strip().splitlines()) == 1, err


def test_a_family_weights_file_changed_after_saving_is_refused(family_saved, tmp_path):
    folder = tmp_path / "fam"
    folder.mkdir()
    for p in family_saved.iterdir():
        (folder / p.name).write_bytes(p.read_bytes())
    raw = bytearray((folder / "weights.safetensors").read_bytes())
    raw[-9] ^= 0x40  # one flipped bit in a tensor: still a valid safetensors file
    (folder / "weights.safetensors").write_bytes(bytes(raw))
    with pytest.raises(ModelFileError, match=r"weights.safetensors: the weights file was changed"):
        family.load(folder)
    assert family.load(family_saved).facts["format_version"] == 1
