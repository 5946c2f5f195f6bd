"""Every writer of a model folder leaves one that loads and whose ``SHA256SUMS`` is complete and
true: it lists exactly the files loading reads, each with its SHA-256 now (what
``sha256sum -c SHA256SUMS`` checks), and the folder holds model files only. Walked over every
model kind and likelihood, the mapped, structure and variants models, and saves over a folder
of another kind or of a biovae that kept no manifest."""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

import numpy as np
import pytest

from biovae import PCA, VAE, Autoencoder, SemiSupervisedVAE, likelihoods
from biovae.config import DataConfig
from biovae.data.dataset import Dataset
from biovae.persistence import CHECKED, MODEL_FILES
from biovae.query import map_query
from tests.conftest import FIXTURES
from tests.models.test_model_conformance import config, dataset_for


def assert_complete(folder: Path) -> None:
    """``folder``'s manifest lists exactly the files loading reads, each as it is now."""
    listed = {}
    for line in (folder / "SHA256SUMS").read_text(encoding="ascii").splitlines():
        digest, name = line.split("  ")
        listed[name] = digest
    assert sorted(listed) == sorted(CHECKED)
    for name, digest in listed.items():
        assert hashlib.sha256((folder / name).read_bytes()).hexdigest() == digest, name
    assert {p.name for p in folder.iterdir()} <= MODEL_FILES


def _labelled(name: str) -> Dataset:
    ds = dataset_for(name)
    labels = np.array(["a", "b", "unknown", "a"] * (len(ds) // 4), dtype=object)
    return Dataset(ds.x, ds.ids, ds.features, {"y": labels}, ds.alphabet)


def _batched(name: str) -> Dataset:
    ds = dataset_for(name)
    batch = np.array(["b1", "b2"] * (len(ds) // 2), dtype=object)
    return Dataset(ds.x, ds.ids, ds.features, {"batch": batch}, ds.alphabet)


def _fit(kind: str, name: str):
    cfg = config(name)
    if kind == "ssvae":
        return SemiSupervisedVAE(likelihood=name, labels_key="y", config=cfg).fit(_labelled(name))
    if kind == "cvae":
        cfg = dataclasses.replace(cfg, data=DataConfig(categorical_covariates=("batch",)))
        return VAE(likelihood=name, config=cfg).fit(_batched(name))
    cls = {"vae": VAE, "ae": Autoencoder}[kind]
    return cls(likelihood=name, config=cfg).fit(dataset_for(name))


@pytest.mark.parametrize("kind", ["vae", "ae", "ssvae", "cvae"])
@pytest.mark.parametrize("name", likelihoods.available())
def test_every_kind_and_likelihood_saves_a_complete_manifest(tmp_path, kind, name):
    from biovae.loading import load_model

    est = _fit(kind, name)
    est.save(tmp_path / "m")
    assert_complete(tmp_path / "m")
    assert type(load_model(tmp_path / "m")) is type(est)


def test_pca_and_a_mapped_model_save_complete_manifests(tmp_path):
    from biovae.loading import load_model

    PCA(n_latent=2).fit(dataset_for("gaussian")).save(tmp_path / "pca")
    assert_complete(tmp_path / "pca")
    assert type(load_model(tmp_path / "pca")) is PCA
    ref = _fit("cvae", "nb")
    query = dataset_for("nb", n=20)
    mapped = map_query(ref, query.x, {"batch": np.full(20, "b3", dtype=object)}, epochs=1)
    mapped.save(tmp_path / "mapped")
    assert_complete(tmp_path / "mapped")
    assert load_model(tmp_path / "mapped").mapping_["levels_added"] == {"batch": ["b3"]}


def test_saving_over_another_kind_or_a_folder_without_manifest(tmp_path):
    """A folder written before the manifest was kept (none) or by another kind of model is
    replaced by one with a complete manifest, never merged with what was there."""
    from biovae.applications.variants import family
    from biovae.applications.variants.alignment import read_alignment
    from tests.applications.variants.test_family import SMALL

    folder = tmp_path / "m"
    _fit("vae", "gaussian").save(folder)
    (folder / "SHA256SUMS").unlink()  # as saved by an older biovae
    aln = read_alignment(FIXTURES / "blat_ecolx_first40.a2m")
    small = dataclasses.replace(SMALL, train=dataclasses.replace(SMALL.train, steps=4), ensemble=2)
    family.save(folder, family.fit(aln, small))
    assert_complete(folder)
    assert family.load(folder).config.ensemble == 2
    PCA(n_latent=2).fit(dataset_for("gaussian")).save(folder)  # and back again
    assert_complete(folder)


def test_a_structure_model_saves_a_complete_manifest(tmp_path):
    pytest.importorskip("MDAnalysis", reason="needs the structure extra (MDAnalysis)")
    from biovae.data.structure import read_structures
    from biovae.structure_estimator import STRUCTURE_DEFAULTS, ConformationVAE

    structures = read_structures(FIXTURES / "ubiquitin_2k39_ca_12.pdb")
    train = dataclasses.replace(STRUCTURE_DEFAULTS.train, epochs=1, seed=0)
    cfg = dataclasses.replace(STRUCTURE_DEFAULTS, train=train)
    ConformationVAE("mse", cfg).fit(structures).save(tmp_path / "s")
    assert_complete(tmp_path / "s")
    ConformationVAE.load(tmp_path / "s")
