"""Every model kind × likelihood takes a training step, gives a finite loss, and survives a
save/load round trip with identical outputs; saved folders contain no pickle."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from biovae import PCA, VAE, Autoencoder, SemiSupervisedVAE, likelihoods
from biovae.config import FitConfig, ModelConfig, NetworkConfig, TrainConfig
from biovae.data.dataset import Dataset
from biovae.errors import ConfigError, DataError, ModelFileError
from biovae.estimator import load_model


def dataset_for(name: str, n: int = 40) -> Dataset:
    rng = np.random.default_rng(0)
    ids = [f"r{i}" for i in range(n)]
    if name == "categorical":
        codes = rng.integers(0, 5, size=(n, 9)).astype(np.uint8)
        return Dataset(codes, ids, tuple(str(i) for i in range(9)), {}, alphabet="ACGT-")
    if name == "bernoulli":
        x = (rng.random((n, 6)) < 0.4).astype(np.float32)
    elif name in ("gaussian", "ca_chain"):
        x = rng.normal(size=(n, 6)).astype(np.float32)
    elif name == "genotype":  # dosages of 6 biallelic loci, some missing
        x = rng.integers(0, 3, size=(n, 6)).astype(np.float32)
        x[rng.random((n, 6)) < 0.1] = np.nan
    elif name == "hurdle_dirichlet":
        x = rng.dirichlet(np.ones(6), size=n) * (rng.random((n, 6)) < 0.6)
        x[:, 0] += 0.01  # every record has a taxon
        x = (x / x.sum(1, keepdims=True)).astype(np.float32)
    else:
        x = rng.poisson(3.0, size=(n, 6)).astype(np.float32)
    return Dataset(x, ids, tuple(f"g{j}" for j in range(6)), {})


def config(name: str, norm: str = "layer") -> FitConfig:
    net = NetworkConfig(hidden=(8,), dropout=0.1, norm=norm)
    return FitConfig(
        model=ModelConfig(n_latent=2, network=net),
        train=TrainConfig(epochs=2, batch_size=16, seed=0),
    )


@pytest.mark.parametrize("cls", [VAE, Autoencoder])
@pytest.mark.parametrize("name", likelihoods.available())
@pytest.mark.parametrize("norm", ["layer", "batch"])
def test_train_step_and_round_trip(tmp_path, cls, name, norm):
    ds = dataset_for(name)
    est = cls(likelihood=name, config=config(name, norm)).fit(ds)
    assert all(np.isfinite(h["loss"]) for h in est.history_)
    z = est.transform(ds)
    assert z.shape == (len(ds), 2)
    samples = est.sample(3)
    assert samples.shape == (3, *ds.x.shape[1:])
    assert est.model_.likelihood.validate(samples) is None
    est.save(tmp_path / "m")
    loaded = load_model(tmp_path / "m")
    assert type(loaded) is cls
    np.testing.assert_array_equal(loaded.transform(ds), z)
    np.testing.assert_array_equal(loaded.score_samples(ds, seed=1), est.score_samples(ds, seed=1))
    np.testing.assert_array_equal(loaded.sample(3, seed=2), est.sample(3, seed=2))
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == [
        "MODEL_CARD.md",
        "SHA256SUMS",
        "config.json",
        "metadata.json",
        "weights.safetensors",
    ]


@pytest.mark.parametrize("name", likelihoods.available())
def test_semisupervised_train_step_and_round_trip(tmp_path, name):
    ds = dataset_for(name)
    labels = np.array(["a", "b", "unknown", ""] * (len(ds) // 4), dtype=object)
    ds = Dataset(ds.x, ds.ids, ds.features, {"y": labels}, ds.alphabet)
    est = SemiSupervisedVAE(likelihood=name, labels_key="y", config=config(name)).fit(ds)
    assert all(np.isfinite(h["loss"]) for h in est.history_)
    proba = est.predict_proba(ds)
    assert proba.shape == (len(ds), 2) and np.allclose(proba.sum(1), 1.0)
    assert tuple(est.classes_) == ("a", "b")
    samples = est.sample(3)
    assert est.model_.likelihood.validate(samples) is None
    est.save(tmp_path / "m")
    loaded = load_model(tmp_path / "m")
    assert type(loaded) is SemiSupervisedVAE
    np.testing.assert_array_equal(loaded.transform(ds), est.transform(ds))
    np.testing.assert_array_equal(loaded.predict_proba(ds), proba)
    np.testing.assert_array_equal(loaded.score_samples(ds, seed=1), est.score_samples(ds, seed=1))
    assert np.isfinite(loaded.score_samples(ds, iwae=4)).all()


@pytest.mark.parametrize("name", likelihoods.available())
def test_pca_round_trip(tmp_path, name):
    ds = dataset_for(name, n=60)
    est = PCA(n_latent=2, likelihood=name).fit(ds)
    est.save(tmp_path / "p")
    loaded = load_model(tmp_path / "p")
    np.testing.assert_allclose(loaded.transform(ds), est.transform(ds))
    np.testing.assert_allclose(loaded.score_samples(ds), est.score_samples(ds))
    assert loaded.sample(4).shape == (4, *ds.x.shape[1:])


def test_a_kind_specific_load_names_biovae_load_model_which_exists(tmp_path):
    import biovae

    ds = dataset_for("gaussian")
    labels = np.array(["a", "b", "unknown"] * 20, dtype=object)[: len(ds)]
    ds = Dataset(ds.x, ds.ids, ds.features, {"y": labels}, ds.alphabet)
    SemiSupervisedVAE(labels_key="y", config=config("gaussian")).fit(ds).save(tmp_path / "m")
    with pytest.raises(ConfigError, match=r"load it with biovae\.load_model"):
        VAE.load(tmp_path / "m")
    assert "load_model" in biovae.__all__
    assert type(biovae.load_model(tmp_path / "m")) is SemiSupervisedVAE


def test_metadata_records_version_fingerprint_and_history(tmp_path):
    ds = dataset_for("gaussian")
    est = VAE(config=config("gaussian")).fit(ds)
    est.save(tmp_path / "m")
    meta = json.loads((tmp_path / "m" / "metadata.json").read_text())
    assert meta["biovae_version"] and meta["data_fingerprint"].startswith("sha256:")
    assert len(meta["history"]) == 2 and meta["schema"]["data_shape"] == [6]


def test_loading_rejects_non_model_folders_and_unknown_keys(tmp_path):
    with pytest.raises(ModelFileError, match=r"missing config\.json"):
        load_model(tmp_path)
    ds = dataset_for("gaussian")
    VAE(config=config("gaussian")).fit(ds).save(tmp_path / "m")
    (tmp_path / "m" / "SHA256SUMS").unlink()  # as saved before it was kept
    cfg = json.loads((tmp_path / "m" / "config.json").read_text())
    cfg["train"]["epochz"] = 3
    (tmp_path / "m" / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ModelFileError, match=r"unknown key config\.train\.epochz"):
        load_model(tmp_path / "m")


def test_saving_never_deletes_other_files_or_biovaes_own_metadata(tmp_path):
    est = VAE(config=config("gaussian")).fit(dataset_for("gaussian"))
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "config.json").write_text("{}")  # looks like a model folder, but is not only that
    (folder / "notes.txt").write_text("mine")
    with pytest.raises(ModelFileError, match=r"notes\.txt"):
        est.save(folder)
    assert (folder / "notes.txt").read_text() == "mine"
    (tmp_path / "empty").mkdir()
    est.save(tmp_path / "empty")  # an empty folder (e.g. from mkdtemp) is fine, and so is
    est.save(tmp_path / "empty")  # replacing a model
    with pytest.raises(ConfigError, match="'history' is biovae's own"):
        est.save(tmp_path / "x", metadata={"history": []})
    with pytest.raises(ModelFileError, match="'format_version' is biovae's own"):
        est.save(tmp_path / "x", metadata={"format_version": 99})
    assert not (tmp_path / "x").exists()


def test_weights_file_is_plain_safetensors(tmp_path):
    from safetensors import safe_open

    VAE(config=config("gaussian")).fit(dataset_for("gaussian")).save(tmp_path / "m")
    with safe_open(str(tmp_path / "m" / "weights.safetensors"), "pt") as fh:
        keys = list(fh.keys())
    assert "encoder.loc.weight" in keys and "decoder.shared.scale" in keys
    raw = (tmp_path / "m" / "weights.safetensors").read_bytes()
    assert b"\x80\x04" not in raw[:16]  # not a pickle stream


def test_unfitted_and_mismatched_inputs_raise():
    est = VAE(config=config("gaussian"))
    with pytest.raises(ConfigError, match="not fitted"):
        est.transform(np.zeros((2, 6)))
    est.fit(dataset_for("gaussian"))
    with pytest.raises(Exception, match="shape"):
        est.transform(np.zeros((2, 5), dtype=np.float32))


@pytest.mark.parametrize("kind", ["vae", "pca"])
def test_features_are_matched_by_name_when_both_sides_have_names(kind):
    import pandas as pd

    ds = dataset_for("gaussian")
    frame = pd.DataFrame(ds.x, columns=[f"gene{j}" for j in range(ds.x.shape[1])])
    est = (VAE(config=config("gaussian")) if kind == "vae" else PCA(n_latent=2)).fit(frame)
    with pytest.raises(DataError, match="feature 1 is 'gene5' where the model has 'gene0'"):
        est.transform(frame[frame.columns[::-1]])
    with pytest.raises(DataError, match=r"shape \(5,\) but the model was fitted on \(6,\)"):
        est.score(frame.iloc[:, :5])
    # a bare array has no names: matched by position
    np.testing.assert_array_equal(est.transform(ds.x), est.transform(frame))


def test_get_config_applies_explicit_arguments():
    cfg = VAE(likelihood="nb", n_latent=4, hidden=(32, 16), beta=0.5, epochs=7, seed=3).get_config()
    assert cfg.model.likelihood.name == "nb" and cfg.model.n_latent == 4
    assert cfg.model.network.hidden == (32, 16) and cfg.objective.beta == 0.5
    assert cfg.train.epochs == 7 and cfg.train.seed == 3 and cfg.model.kind == "vae"
    with pytest.raises(ConfigError, match="unknown likelihood"):
        VAE(likelihood="negbin").get_config()


def test_autoencoder_is_deterministic_encoder():
    ds = dataset_for("gaussian")
    est = Autoencoder(config=config("gaussian")).fit(ds)
    q = est.model_.encode(torch.as_tensor(ds.x))
    assert torch.equal(q.rsample(), q.mean)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda m: m.update(format_version="2"), "format_version '2' is not a whole number"),
        (lambda m: m["schema"].pop("data_shape"), "the 'schema' entry is damaged"),
    ],
)
def test_damaged_metadata_is_a_model_file_error(tmp_path, edit, message):
    import json

    from biovae.estimator import load_model

    folder = VAE(config=config("gaussian")).fit(dataset_for("gaussian")).save(tmp_path / "m")
    (folder / "SHA256SUMS").unlink()  # as saved before it was kept: the edit reaches the check
    meta = json.loads((folder / "metadata.json").read_text())
    edit(meta)
    (folder / "metadata.json").write_text(json.dumps(meta))
    with pytest.raises(ModelFileError, match=message):
        load_model(folder)


def test_a_loaded_model_refitted_learns_its_settings_from_the_new_data(tmp_path):
    import pandas as pd

    from biovae.estimator import load_model

    rng = np.random.default_rng(0)

    def genotypes(loci):  # <locus>.<allele> columns of allele counts summing to 2
        cols = {}
        for name, k in loci:
            counts = rng.multinomial(2, [1 / k] * k, size=30)
            cols.update({f"{name}.{j}": counts[:, j] for j in range(k)})
        return pd.DataFrame(cols, index=[f"i{i}" for i in range(30)]).astype(float)

    first = VAE(likelihood="genotype", n_latent=2, epochs=1).fit(
        genotypes([("a", 2), ("b", 2), ("c", 2)])
    )
    loaded = load_model(first.save(tmp_path / "m"))
    assert loaded.config_.model.likelihood.loci == (2, 2, 2)  # what the fit learned
    assert loaded.config is not None and loaded.config.model.likelihood.loci == ()  # asked
    refit = loaded.fit(genotypes([("d", 3), ("e", 1), ("f", 2)]))
    assert refit.config_.model.likelihood.loci == (3, 1, 2)  # was (2, 2, 2): a wrong error
