"""Training off the CPU (``train.device``): every model kind × likelihood keeps its tensors on
one device, checked here on torch's ``meta`` device (shapes only, but mixing it with CPU tensors
fails exactly as CUDA does); with a GPU, real fits there come back on the CPU and usable."""

from __future__ import annotations

import copy
import dataclasses

import numpy as np
import pytest
import torch

from biovae import VAE, Autoencoder, SemiSupervisedVAE, likelihoods
from biovae.config import DataConfig, FitConfig, LikelihoodConfig, ObjectiveConfig, TrainConfig
from biovae.data.dataset import Dataset
from biovae.errors import ConfigError
from tests.models.test_model_conformance import config, dataset_for

CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
#: ca_chain branches on its data (whether any bond is cis), which the meta device cannot do
ON_META = [n for n in likelihoods.available() if n != "ca_chain"]


def _labelled(ds: Dataset) -> Dataset:
    labels = np.array(["a", "b", "unknown", ""] * (len(ds) // 4), dtype=object)
    return Dataset(ds.x, ds.ids, ds.features, {**ds.obs, "y": labels}, ds.alphabet)


def _conditional(name: str, ssvae: bool = False) -> tuple[Dataset, FitConfig]:
    """Counts with a two-level batch covariate, gene-batch dispersion and the MMD penalty."""
    ds = dataset_for(name)
    ds = Dataset(ds.x, ds.ids, ds.features, {"b": np.array(["p", "q"] * (len(ds) // 2))})
    base = config(name)
    cfg = dataclasses.replace(
        base,
        data=DataConfig(batch_key="b"),
        model=dataclasses.replace(
            base.model, likelihood=LikelihoodConfig(name, dispersion="gene-batch")
        ),
        objective=ObjectiveConfig(mmd_batch=1.0, free_bits=0.1),
    )
    return (_labelled(ds), cfg) if ssvae else (ds, cfg)


def _estimator(cls, name: str, ds: Dataset, cfg: FitConfig):
    if cls is SemiSupervisedVAE:
        return cls(likelihood=name, labels_key="y", config=cfg)
    return cls(likelihood=name, config=cfg)


def _cases():
    for cls in (VAE, Autoencoder, SemiSupervisedVAE):
        for name in ON_META:
            ds = dataset_for(name)
            yield cls, name, _labelled(ds) if cls is SemiSupervisedVAE else ds, config(name)
    for name in ("nb", "zinb"):
        yield VAE, name, *_conditional(name)
        yield SemiSupervisedVAE, name, *_conditional(name, ssvae=True)


@pytest.fixture
def no_distribution_checks():
    """torch.distributions' argument checks read values, which meta tensors do not have."""
    before = torch.distributions.Distribution._validate_args
    torch.distributions.Distribution.set_default_validate_args(False)
    yield
    torch.distributions.Distribution.set_default_validate_args(before)


@pytest.mark.parametrize(
    ("cls", "name", "ds", "cfg"),
    list(_cases()),
    ids=lambda v: getattr(v, "__name__", v) if not isinstance(v, (Dataset, FitConfig)) else "",
)
def test_loss_and_gradient_stay_on_the_model_device(no_distribution_checks, cls, name, ds, cfg):
    est = _estimator(cls, name, ds, cfg).fit(ds)
    model = copy.deepcopy(est.model_).to("meta").train()
    batch = next(iter(est.batches(ds)))
    if cls is SemiSupervisedVAE:  # training batches carry label codes (-1 = unlabelled)
        codes = torch.tensor([0, 1, -1, -1] * len(batch))[: len(batch)]
        batch = dataclasses.replace(batch, y=codes)
    assert (batch.c is not None) == bool(cfg.data.batch_key)
    batch = batch.to(torch.device("meta"))
    out = model.loss(batch, est.config_.objective, 0)
    out.loss.backward()
    assert out.loss.device.type == "meta"
    assert all(p.grad is None or p.grad.device.type == "meta" for p in model.parameters())


def test_batch_to_moves_every_tensor_and_keeps_absent_ones():
    from biovae.objectives import Batch

    b = Batch(torch.ones(3, 2), c=torch.zeros(3, 1), y=torch.tensor([0, -1, 1]))
    assert b.to(torch.device("cpu")) is b
    m = b.to(torch.device("meta"))
    assert {m.x.device.type, m.c.device.type, m.y.device.type} == {"meta"} and m.w is None


def test_a_bad_device_name_is_a_config_error():
    with pytest.raises(ConfigError, match="not a torch device"):
        TrainConfig(device="gpu0")
    assert TrainConfig(device="cuda:1").device == "cuda:1"  # checked by name here


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a CUDA device")
def test_cuda_without_a_gpu_is_a_one_line_config_error():
    ds = dataset_for("nb")
    cfg = dataclasses.replace(config("nb"), train=TrainConfig(epochs=1, device="cuda"))
    with pytest.raises(ConfigError, match="no CUDA GPU; train with --device cpu"):
        VAE(likelihood="nb", config=cfg).fit(ds)


@CUDA
@pytest.mark.parametrize(
    ("cls", "name", "ds", "cfg"),
    [*_cases(), (VAE, "ca_chain", dataset_for("ca_chain"), config("ca_chain"))],
    ids=lambda v: getattr(v, "__name__", v) if not isinstance(v, (Dataset, FitConfig)) else "",
)
def test_a_fit_on_cuda_comes_back_on_the_cpu(tmp_path, cls, name, ds, cfg):
    cfg = dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, device="cuda"))
    est = _estimator(cls, name, ds, cfg).fit(ds)
    assert all(np.isfinite(h["loss"]) and np.isfinite(h["val_loss"]) for h in est.history_)
    assert {p.device.type for p in est.model_.parameters()} == {"cpu"}
    z = est.transform(ds)
    assert z.shape == (len(ds), 2) and np.isfinite(z).all()
    est.save(tmp_path / "m")
    assert (tmp_path / "m" / "config.json").read_text().count('"cuda"') == 1
