"""Configs: validation on construction, unknown keys rejected, TOML and CLI flags agree."""

from __future__ import annotations

import pytest

from biovae.cli.config_args import build_config
from biovae.cli.parser import build_parser
from biovae.config import FitConfig, ModelConfig, NetworkConfig, TrainConfig, from_dict, to_dict
from biovae.errors import ConfigError


def test_round_trip_through_dict():
    cfg = FitConfig(train=TrainConfig(epochs=3), model=FitConfig().model)
    assert from_dict(FitConfig, to_dict(cfg)) == cfg


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"train": {"epoch": 3}}, "unknown key config.train.epoch; valid keys are"),
        ({"train": {"epochs": "3"}}, "config.train.epochs must be an integer"),
        ({"model": {"network": {"hidden": 64}}}, "config.model.network.hidden must be a list"),
        ({"model": {"kind": "gan"}}, "model.kind must be one of"),
        ({"objective": {"beta": -1}}, "objective.beta must be >= 0"),
        ({"bogus": {}}, "unknown key config.bogus"),
        # the encoder would read the label to predict (tl.vae(batch_key="lab", labels_key="lab"))
        ({"data": {"labels_key": "lab", "batch_key": "lab"}}, "labels key 'lab' is also a cov"),
        ({"data": {"labels_key": "y", "continuous_covariates": ["y"]}}, "labels key 'y' is also"),
        # two one-hot blocks of one batch: a counterfactual batch set only the first of them
        ({"data": {"categorical_covariates": ["b", "b"]}}, "'b' is listed twice in data.categ"),
        ({"data": {"continuous_covariates": ["x", "x"]}}, "'x' is listed twice in data.conti"),
    ],
)
def test_invalid_configs_are_rejected(data, message):
    with pytest.raises(ConfigError, match=message):
        from_dict(FitConfig, data)


def test_configs_are_frozen():
    with pytest.raises(AttributeError):
        NetworkConfig().dropout = 0.5  # type: ignore[misc]


def test_precedence_defaults_then_toml_then_flags(tmp_path):
    toml = tmp_path / "c.toml"
    toml.write_text(
        "[train]\nepochs = 7\nlr = 0.01\n[model]\nn_latent = 4\n"
        "[model.network]\nhidden = [32, 16]\n"
    )
    args = build_parser().parse_args(
        ["fit", "d.tsv", "--out", "m", "--config", str(toml), "--epochs", "9", "--beta", "0.5"]
    )
    cfg = build_config(args)
    assert cfg.train.epochs == 9 and cfg.train.lr == 0.01 and cfg.model.n_latent == 4
    assert cfg.model.network.hidden == (32, 16) and cfg.objective.beta == 0.5
    assert cfg.train.batch_size == TrainConfig().batch_size


def test_toml_typo_names_the_key_and_the_file(tmp_path):
    toml = tmp_path / "c.toml"
    toml.write_text("[train]\nepocs = 7\n")
    args = build_parser().parse_args(["fit", "d.tsv", "--out", "m", "--config", str(toml)])
    with pytest.raises(ConfigError, match=r"unknown key config.train.epocs.*c.toml"):
        build_config(args)


@pytest.mark.parametrize(
    ("toml", "flags", "source"),
    [
        ("[train]\nepochs = 7\n", ["--epochs", "0"], "option --epochs"),  # the flag, by name
        ("[train]\nepochs = 7\n", ["--lr", "-1"], "option --lr"),
        ("[train]\nepochs = 0\n", [], "config file .*c.toml, line 2"),
        ("[train]\nepochs = 0\n", ["--latent", "0"], "option --latent"),
        (
            "[objective]\niwae_samples = 5\nmmd_batch = 1.0\n",
            ["--epochs", "0"],
            "config file .*c.toml, line 3",  # the line of mmd_batch, which the message names
        ),
        ("# c\n[model]\n\nnetwork.hidden = [8, 'a']\n", [], "config file .*c.toml, line 4"),
        ("[train]\nepochs = 3\n[trian]\nlr = 1\n", [], "config file .*c.toml, line 3"),
        # a value where a table is meant is the file's error even under a flag setting one
        # key of that table (the merged flags replaced it: a gaussian model, not an NB one)
        ('[model]\nlikelihood = "nb"\n', ["--dispersion", "gene"], "config file .*c.toml, line 2"),
        ("[model]\nnetwork = 3\n", ["--hidden", "8"], "config file .*c.toml, line 2"),
        # a nested table's own check names it by its table (network.dropout), not in full
        (
            "[train]\nepochs = 3\n[model.network]\ndropout = 1.0\n",
            [],
            "config file .*c.toml, line 4",
        ),
        ('[model.likelihood]\nvariance = "x"\n', [], "config file .*c.toml, line 2"),
        ("[train]\nepochs = 3\n", ["--dropout", "1"], "option --dropout"),
        ("[train]\nepochs = 3\n", ["--hidden", "8,0"], "option --hidden"),
        # an unknown likelihood named only itself, not the file line or flag that gave it
        (
            '[train]\nepochs = 3\n[model.likelihood]\nname = "nbb"\n',
            [],
            "config file .*c.toml, line 4",
        ),
        ("[train]\nepochs = 3\n", ["--likelihood", "gamma"], "option --likelihood"),
    ],
)
def test_a_bad_value_is_blamed_on_where_it_came_from(tmp_path, toml, flags, source):
    (tmp_path / "c.toml").write_text(toml)
    args = build_parser().parse_args(
        ["fit", "d.tsv", "--out", "m", "--config", str(tmp_path / "c.toml"), *flags]
    )
    with pytest.raises(ConfigError, match=rf"\(from {source}\)$"):
        build_config(args)


def test_python_values_take_the_declared_types():
    import numpy as np

    cfg = TrainConfig(epochs=np.int64(3), lr=np.float32(0.5), seed=np.uint8(7))
    assert (type(cfg.epochs), type(cfg.lr), type(cfg.seed)) == (int, float, int)
    net = NetworkConfig(hidden=[np.int64(8), 4])
    assert net.hidden == (8, 4) and type(net.hidden[0]) is int
    assert hash(FitConfig(model=__import__("biovae").config.ModelConfig(network=net)))
    to_dict(FitConfig(train=cfg))  # JSON-ready: no numpy scalars left


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"epochs": 2.5}, "train.epochs must be an integer"),
        ({"epochs": "3"}, "train.epochs must be an integer"),
        ({"lr": float("inf")}, "train.lr must be a finite number"),
        ({"seed": 2**64}, r"train.seed must be in 0 .. 2\*\*63 - 1"),
        ({"seed": -1}, "train.seed must be in"),
    ],
)
def test_python_values_of_the_wrong_type_are_config_errors(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        TrainConfig(**kwargs)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: ModelConfig(likelihood="nb"), "model.likelihood must be a biovae.config.Like"),
        (lambda: ModelConfig(network=None), "model.network must be a biovae.config.NetworkConfig"),
        (lambda: FitConfig(train={"epochs": 3}), "^train must be a biovae.config.TrainConfig"),
    ],
)
def test_a_nested_config_of_the_wrong_type_is_a_config_error(make, message):
    # ModelConfig(likelihood="nb") was accepted and failed at fit with an AttributeError
    with pytest.raises(ConfigError, match=message):
        make()


def test_paths_and_torch_devices_are_taken_as_their_text():
    from pathlib import Path

    import torch

    from biovae.config import DataConfig

    assert TrainConfig(device=torch.device("cpu")).device == "cpu"
    assert DataConfig(obs_path=Path("meta") / "obs.tsv").obs_path == str(Path("meta/obs.tsv"))


def test_a_saved_models_config_json_refits_it_exactly(tmp_path, capsys):
    import numpy as np
    from safetensors.torch import load_file

    from tests.cli._run import run

    np.save(tmp_path / "x.npy", np.random.default_rng(0).normal(size=(40, 5)).astype(np.float32))
    flags = ["--latent", "2", "--hidden", "8", "--epochs", "2", "--seed", "3", "--quiet"]
    rc, _, err = run(capsys, "fit", tmp_path / "x.npy", *flags, "--out", tmp_path / "a")
    assert rc == 0, err
    again = ["--config", tmp_path / "a" / "config.json", "--quiet", "--out", tmp_path / "b"]
    rc, _, err = run(capsys, "fit", tmp_path / "x.npy", *again)
    assert rc == 0, err
    a, b = (load_file(str(tmp_path / m / "weights.safetensors")) for m in "ab")
    assert a.keys() == b.keys() and all(a[k].equal(b[k]) for k in a)
    (tmp_path / "bad.json").write_text('{"train": {"epochs": 1,}}')
    bad = ["--config", tmp_path / "bad.json", "--out", tmp_path / "c"]
    rc, _, err = run(capsys, "fit", tmp_path / "x.npy", *bad)
    assert rc == 2 and "bad.json: not valid JSON" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "c").exists()


def test_python_fits_a_saved_config_json_to_the_weights_the_cli_gave(tmp_path, capsys):
    import numpy as np
    from safetensors.torch import load_file

    import biovae
    from biovae.config import load_toml
    from biovae.data.readers import read_dataset
    from tests.cli._run import run

    np.save(tmp_path / "x.npy", np.random.default_rng(1).normal(size=(40, 5)).astype(np.float32))
    flags = ["--latent", "2", "--hidden", "8", "--epochs", "2", "--seed", "5", "--quiet"]
    rc, _, err = run(capsys, "fit", tmp_path / "x.npy", *flags, "--out", tmp_path / "cli")
    assert rc == 0, err
    cfg = from_dict(FitConfig, load_toml(tmp_path / "cli" / "config.json"))
    biovae.VAE(config=cfg).fit(read_dataset(tmp_path / "x.npy")).save(tmp_path / "py")
    a, b = (load_file(str(tmp_path / m / "weights.safetensors")) for m in ("cli", "py"))
    assert a.keys() == b.keys() and all(a[k].equal(b[k]) for k in a)


def test_a_config_file_with_a_byte_order_mark_is_read(tmp_path):
    from biovae.config import load_toml

    (tmp_path / "c.toml").write_bytes(b"\xef\xbb\xbf[train]\nepochs = 3\n")
    (tmp_path / "c.json").write_bytes(b'\xef\xbb\xbf{"train": {"epochs": 3}}')
    for name in ("c.toml", "c.json"):
        assert load_toml(tmp_path / name) == {"train": {"epochs": 3}}


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: (p / "config.json").write_text("{}") and p, r"is a folder.*give .*config.json$"),
        (lambda p: p, "is a folder, not a file; give a TOML file$"),
        (lambda p: (p / "c.yaml").write_text("train:\n  epochs: 3\n") and p / "c.yaml", "YAML"),
    ],
)
def test_a_config_path_that_is_a_folder_or_yaml_says_what_to_give(tmp_path, make, message):
    from biovae.config import load_toml

    with pytest.raises(ConfigError, match=message):
        load_toml(make(tmp_path))


@pytest.mark.parametrize(
    ("estimator", "kind", "other"),
    [
        ("VAE", "ae", "Autoencoder"),
        ("VAE", "ssvae", "SemiSupervisedVAE"),
        ("Autoencoder", "pca", "PCA"),
        ("PCA", "ae", "Autoencoder"),
        ("SemiSupervisedVAE", "pca", "PCA"),
    ],
)
def test_an_estimator_refuses_a_config_of_another_model_kind(estimator, kind, other):
    # biovae.VAE(config=<an autoencoder's config.json>) trained and saved a VAE, unseen
    import numpy as np

    import biovae

    cfg = FitConfig(model=ModelConfig(kind=kind, n_latent=2), train=TrainConfig(epochs=1))
    x = np.random.default_rng(0).normal(size=(12, 3))
    with pytest.raises(ConfigError, match=rf"model.kind is '{kind}' .* with biovae\.{other},"):
        getattr(biovae, estimator)(config=cfg).fit(x)
