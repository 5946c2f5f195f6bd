"""Loading a model folder never gives a silently different model: a weights file changed after
saving, non-finite or missing tensors and damaged metadata entries are one-line errors naming
the file (and a command's exit status 2), never a traceback."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from biovae import PCA, VAE, SemiSupervisedVAE, load_model
from biovae.config import FitConfig, ModelConfig, NetworkConfig, TrainConfig
from biovae.errors import ConfigError, ModelFileError
from tests.cli._run import run

X = np.random.default_rng(0).normal(size=(40, 5)).astype(np.float32)


@pytest.fixture(scope="module")
def folders(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("models")
    cfg = FitConfig(
        model=ModelConfig(n_latent=2, network=NetworkConfig(hidden=(8,))),
        train=TrainConfig(epochs=1, batch_size=16, seed=0),
    )
    return {
        "vae": VAE(config=cfg).fit(X).save(root / "vae"),
        "pca": PCA(n_latent=2).fit(X).save(root / "pca"),
        "ssvae": SemiSupervisedVAE(labels_key="lab", config=cfg)
        .fit(X, {"lab": np.array(["a", "b", "c", "unknown"] * 10, dtype=object)})
        .save(root / "ssvae"),
    }


def copy(folder: Path, tmp_path: Path, digest: bool = True, manifest: bool = False) -> Path:
    """A copy of a model folder; ``digest=False``: as saved before the weights' SHA-256 was kept;
    ``manifest=False``: before SHA256SUMS was (so that edits reach the checks after it)."""
    out = tmp_path / folder.name
    out.mkdir()
    for p in folder.iterdir():
        if manifest or p.name != "SHA256SUMS":
            (out / p.name).write_bytes(p.read_bytes())
    if not digest:
        edit_metadata(out, lambda m: m.pop("weights_sha256", None))
    return out


def edit_metadata(folder: Path, edit) -> None:
    meta = json.loads((folder / "metadata.json").read_text())
    edit(meta)
    (folder / "metadata.json").write_text(json.dumps(meta))


def edit_weights(folder: Path, edit) -> None:
    path = folder / "weights.safetensors"
    weights = load_file(str(path))
    edit(weights)
    save_file(weights, str(path), metadata={"format": "biovae"})


@pytest.mark.parametrize("kind", ["vae", "pca"])
def test_a_weights_file_changed_after_saving_is_refused(folders, tmp_path, kind, capsys):
    folder = copy(folders[kind], tmp_path)
    raw = bytearray((folder / "weights.safetensors").read_bytes())
    raw[-9] ^= 0x40  # one flipped bit in a tensor: still a valid safetensors file
    (folder / "weights.safetensors").write_bytes(bytes(raw))
    with pytest.raises(ModelFileError, match=r"weights.safetensors: the weights file was changed"):
        load_model(folder)
    data = tmp_path / "x.npy"
    np.save(data, X)
    rc, _, err = run(capsys, "embed", folder, data, "--out", tmp_path / "z.csv")
    assert rc == 2 and len(err.strip().splitlines()) == 1 and "SHA-256" in err
    assert not (tmp_path / "z.csv").exists()


@pytest.mark.parametrize("kind", ["vae", "pca"])
def test_non_finite_weights_are_refused(folders, tmp_path, kind):
    folder = copy(folders[kind], tmp_path, digest=False)

    def poison(w):
        name = sorted(k for k in w if w[k].is_floating_point())[0]
        w[name] = torch.full_like(w[name], float("nan"))

    edit_weights(folder, poison)
    with pytest.raises(ModelFileError, match=r"weights.safetensors: tensor .* holds NaN"):
        load_model(folder)


@pytest.mark.parametrize(
    ("key", "value"), [("history", "x"), ("history", [1]), ("n_train", "x"), ("n_train", 2.5)]
)
@pytest.mark.parametrize("kind", ["vae", "pca"])
def test_damaged_metadata_entries_are_model_file_errors(folders, tmp_path, kind, key, value):
    folder = copy(folders[kind], tmp_path)
    edit_metadata(folder, lambda m: m.update({key: value}))
    with pytest.raises(ModelFileError, match=rf"metadata.json: the '{key}' entry is damaged"):
        load_model(folder)


@pytest.mark.parametrize("kind", ["vae", "pca"])
def test_feature_names_that_do_not_fit_the_data_shape_are_refused(folders, tmp_path, kind, capsys):
    # 2 names for 5 columns: `sample` wrote 2 of the 5 values per row, `expression` crashed
    folder = copy(folders[kind], tmp_path)
    edit_metadata(folder, lambda m: m["schema"].update(features=["a", "b"]))
    with pytest.raises(ModelFileError, match=r"'schema' entry is damaged .*2 feature names for 5"):
        load_model(folder)
    rc, _, err = run(capsys, "sample", folder, "-n", "3", "--out", tmp_path / "s.tsv")
    assert rc == 2 and len(err.strip().splitlines()) == 1 and "metadata.json" in err
    assert not (tmp_path / "s.tsv").exists()


def test_repeated_label_levels_are_refused(folders, tmp_path, capsys):
    # levels a, a, c: embed wrote one p_a column (the second level's) and no p_b, silently
    folder = copy(folders["ssvae"], tmp_path)
    edit_metadata(folder, lambda m: m["schema"]["labels"].update(levels=["a", "a", "c"]))
    with pytest.raises(ModelFileError, match=r"'schema' entry is damaged .*label levels repeat"):
        load_model(folder)
    data, out = tmp_path / "x.npy", tmp_path / "z.csv"
    np.save(data, X)
    rc, _, err = run(capsys, "embed", folder, data, "--out", out)
    assert rc == 2 and len(err.strip().splitlines()) == 1 and "metadata.json" in err
    assert not out.exists()


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda w: w.pop("components"), r"'components' is missing"),
        (
            lambda w: w.update(mean=torch.zeros(6, dtype=torch.float64)),
            r"'mean' is torch.float64 \(6,\) where the saved config needs float \(5,\)",
        ),
        (lambda w: w.update(mean=w["mean"].long()), r"'mean' is torch.int64 \(5,\)"),
        (lambda w: w.update(extra=torch.zeros(1)), r"tensor 'extra' is not part of a PCA"),
    ],
)
def test_pca_weights_must_fit_the_saved_config(folders, tmp_path, edit, message):
    folder = copy(folders["pca"], tmp_path, digest=False)
    edit_weights(folder, edit)
    with pytest.raises(ConfigError, match=message) as exc:
        load_model(folder)
    assert str(exc.value).startswith(f"{folder / 'weights.safetensors'}: ")
    with pytest.raises(ConfigError, match=message):
        PCA.load(folder)


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("pca", r"'components' is .* needs float \(5, 3\)"),  # PCA's tensors against its config
        ("vae", r"^{folder}/weights.safetensors: the weights of"),  # the file is named
    ],
)
def test_weights_that_do_not_fit_the_saved_latent_size_are_refused(
    folders, tmp_path, kind, message
):
    folder = copy(folders[kind], tmp_path)
    config = json.loads((folder / "config.json").read_text())
    config["model"]["n_latent"] = 3
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(ConfigError, match=message.format(folder=folder)):
        load_model(folder)


def test_loading_another_kind_as_pca_names_the_folder(folders):
    with pytest.raises(ConfigError, match=rf"^{folders['vae']} holds a 'vae' model, not a PCA"):
        PCA.load(folders["vae"])


def test_a_damaged_given_config_names_the_folders_metadata_json(folders, tmp_path):
    # the error said only "metadata.json: ...", not which model folder's
    folder = copy(folders["vae"], tmp_path)
    edit_metadata(folder, lambda m: m["given_config"]["model"].update(bogus=1))
    where = str(folder / "metadata.json")
    with pytest.raises(ModelFileError, match=re.escape(where) + r": unknown key .*bogus"):
        load_model(folder)


def test_sha256sums_lists_the_sha256_of_each_file_loading_reads(folders):
    # ground truth: hashlib over the files' bytes, in sha256sum's '<hex>  <name>' format
    for folder in folders.values():
        want = [
            f"{hashlib.sha256((folder / n).read_bytes()).hexdigest()}  {n}"
            for n in ("config.json", "metadata.json", "weights.safetensors")
        ]
        assert (folder / "SHA256SUMS").read_text().splitlines() == want


@pytest.mark.parametrize(
    ("kind", "name", "edit"),
    [  # each loaded before, silently: a model that computes something else
        ("vae", "config.json", lambda c: c["model"]["network"].update(activation="tanh")),
        ("vae", "config.json", lambda c: c["model"]["likelihood"].update(fixed_scale=5.0)),
        ("vae", "metadata.json", lambda m: m["schema"]["features"].reverse()),
        ("ssvae", "metadata.json", lambda m: m["schema"]["labels"]["levels"].reverse()),
        ("pca", "metadata.json", lambda m: m["schema"]["features"].reverse()),
    ],
)
def test_a_config_or_metadata_file_edited_after_saving_is_refused(
    folders, tmp_path, kind, name, edit, capsys
):
    folder = copy(folders[kind], tmp_path, manifest=True)
    path = folder / name
    data = json.loads(path.read_text())
    edit(data)
    path.write_text(json.dumps(data, indent=2))
    message = rf"^{re.escape(str(path))}: the file was changed or damaged after it was saved"
    with pytest.raises(ModelFileError, match=message):
        load_model(folder)
    data_file = tmp_path / "x.npy"
    np.save(data_file, X)
    rc, _, err = run(capsys, "embed", folder, data_file, "--out", tmp_path / "z.csv")
    assert rc == 2 and len(err.strip().splitlines()) == 1 and "SHA256SUMS" in err
    assert not (tmp_path / "z.csv").exists()
    (folder / "SHA256SUMS").unlink()  # the way out the message names, for a deliberate edit
    load_model(folder)


def test_a_truncated_config_names_the_file_and_the_manifest_catches_it_first(folders, tmp_path):
    folder = copy(folders["vae"], tmp_path, manifest=True)
    text = (folder / "config.json").read_text()
    (folder / "config.json").write_text(text[: len(text) // 2])
    with pytest.raises(ModelFileError, match=r"config.json: the file was changed or damaged"):
        load_model(folder)


@pytest.mark.parametrize(
    ("manifest", "message"),
    [
        ("not a digest\n", r"SHA256SUMS, line 1: not '<SHA-256>  <file name>'"),
        ("", r"SHA256SUMS: lists no config.json"),
    ],
)
def test_a_damaged_manifest_is_one_line(folders, tmp_path, manifest, message):
    folder = copy(folders["vae"], tmp_path, manifest=True)
    (folder / "SHA256SUMS").write_text(manifest)
    with pytest.raises(ModelFileError, match=message):
        load_model(folder)


@pytest.mark.parametrize("kind", ["vae", "pca", "ssvae"])
def test_a_folder_saved_before_sha256sums_loads_and_is_replaced(folders, tmp_path, kind):
    folder = copy(folders[kind], tmp_path)  # as the previous version wrote it: no SHA256SUMS
    assert not (folder / "SHA256SUMS").exists()
    model = load_model(folder)
    np.testing.assert_array_equal(model.transform(X), load_model(folders[kind]).transform(X))
    model.save(folder)  # still a model folder to refit in place
    assert (folder / "SHA256SUMS").is_file()
