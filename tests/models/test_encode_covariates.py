"""``network.encode_covariates``: with it off, q(z|x) reads the record alone (scVI's default
``encode_covariates=False``) while the decoder stays conditioned on the covariates."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from biovae import VAE, Autoencoder, SemiSupervisedVAE
from biovae.cli.config_args import build_config
from biovae.cli.options import FIT_OPTIONS, add_options
from biovae.config import (
    DataConfig,
    FitConfig,
    LikelihoodConfig,
    ModelConfig,
    NetworkConfig,
    TrainConfig,
)
from biovae.data.dataset import Dataset
from biovae.estimator import load_model


def _counts(n: int = 60) -> Dataset:
    """NB-like counts in two batches; record n-1 is a copy of record 0 moved to the other batch."""
    rng = np.random.default_rng(0)
    batch = np.array(["a", "b"], dtype=object)[np.arange(n) % 2]
    x = rng.poisson(4.0 * (1 + (batch == "b"))[:, None], size=(n, 7)).astype(np.float32)
    x[n - 1] = x[0]
    batch[n - 1] = "b" if batch[0] == "a" else "a"
    labels = np.array(["t0", "t1", "t2"], dtype=object)[np.arange(n) % 3]
    obs = {"batch": batch, "cell_type": labels}
    return Dataset(x, [f"c{i}" for i in range(n)], tuple(f"g{j}" for j in range(7)), obs)


def _config(encode: bool, kind: str = "vae") -> FitConfig:
    net = NetworkConfig(hidden=(8,), norm="batch", encode_covariates=encode)
    lik = LikelihoodConfig("nb")
    labels = "cell_type" if kind == "ssvae" else None
    return FitConfig(
        model=ModelConfig(kind=kind, n_latent=2, likelihood=lik, network=net),
        train=TrainConfig(epochs=2, batch_size=16, seed=0),
        data=DataConfig(batch_key="batch", labels_key=labels),
    )


@pytest.mark.parametrize(
    "cls,kind", [(VAE, "vae"), (Autoencoder, "ae"), (SemiSupervisedVAE, "ssvae")]
)
def test_same_counts_in_another_batch_get_the_same_posterior(cls, kind):
    ds = _counts()
    est = cls(config=_config(False, kind)).fit(ds)
    z = est.transform(ds)
    assert np.isfinite(z).all()
    np.testing.assert_allclose(z[0], z[-1], rtol=0, atol=1e-6)
    seeing = cls(config=_config(True, kind)).fit(ds).transform(ds)
    assert np.abs(seeing[0] - seeing[-1]).max() > 1e-4


def test_the_decoder_still_reads_the_batch():
    est = VAE(config=_config(False)).fit(_counts())
    model = est.model_.eval()
    z = torch.zeros(1, 2)
    a, b = torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 1.0]])
    x = torch.ones(1, 7)
    ctx = model.context(x)
    assert not torch.allclose(model.decode(z, a, ctx).mean, model.decode(z, b, ctx).mean)
    first = model.encoder.trunk.linears[0]
    assert first.in_features == model.likelihood.n_inputs  # no covariate columns


def test_round_trip_keeps_the_blind_encoder(tmp_path):
    ds = _counts()
    est = VAE(config=_config(False)).fit(ds)
    est.save(tmp_path / "m")
    saved = json.loads((tmp_path / "m" / "config.json").read_text())
    assert saved["model"]["network"]["encode_covariates"] is False
    np.testing.assert_allclose(load_model(tmp_path / "m").transform(ds), est.transform(ds))


def test_cli_flag_sets_the_config():
    import argparse

    parser = argparse.ArgumentParser()
    add_options(parser, FIT_OPTIONS, "all")
    assert build_config(parser.parse_args([])).model.network.encode_covariates is True
    cfg = build_config(parser.parse_args(["--encode-covariates", "no"]))
    assert cfg.model.network.encode_covariates is False
    with pytest.raises(SystemExit):
        parser.parse_args(["--encode-covariates", "maybe"])
