"""``fit`` measures how many latent dimensions the trained model uses (active units on the
held-out records) and warns, once, when it uses none: posterior collapse, a map that carries
almost no information about the records."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import torch

from biovae import VAE, Autoencoder, persistence
from biovae import estimator as estimator_module
from biovae import latent_usage as usage_module
from biovae.config import FitConfig, TrainConfig
from biovae.data.readers import read_dataset
from biovae.loading import model_from_saved
from tests.conftest import needs_anndata


def _noise(n: int = 120, f: int = 8) -> np.ndarray:
    """Pure noise: nothing for a code to carry beyond what a huge β makes too expensive."""
    return np.random.default_rng(0).normal(size=(n, f)).astype(np.float32)


def _structured(n: int = 120) -> np.ndarray:
    """Rank-2 data with a strong signal: a code of two dimensions explains almost all of it."""
    rng = np.random.default_rng(1)
    z = rng.normal(size=(n, 2))
    return (3 * z @ rng.normal(size=(2, 8)) + 0.1 * rng.normal(size=(n, 8))).astype(np.float32)


def _collapsed(x: np.ndarray, **kw) -> VAE:
    """A VAE whose huge β (and many quick steps) squeezes every code onto the prior."""
    cfg = FitConfig(train=TrainConfig(batch_size=16, lr=1e-2))
    return VAE(
        likelihood="gaussian", n_latent=4, hidden=(16,), beta=200.0, epochs=20, config=cfg, **kw
    )


def _fit_recording(est, x):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        est.fit(x)  # the user's line: the warning must point here
    return [w for w in caught if "posterior collapse" in str(w.message)]


def test_a_collapsed_vae_warns_once_at_the_users_line():
    est = _collapsed(_noise())
    caught = _fit_recording(est, _noise())
    assert len(caught) == 1
    assert caught[0].filename == __file__  # warn_at_caller: the user's line, not biovae's
    message = str(caught[0].message)
    assert "0 of 4 latent dimensions active" in message
    assert "over 12 validation records" in message  # 10 % of 120 held out
    for flag in ("--beta", "--kl-warmup", "--free-bits", "--model pca", "biovae diagnose"):
        assert flag in message
    assert est.latent_usage_ == {
        "n_active": 0,
        "n_latent": 4,
        "records": 12,
        "split": "validation",
        "threshold": 0.01,
    }


def test_a_model_with_structure_uses_its_dimensions_and_does_not_warn():
    x = _structured()
    est = VAE(likelihood="gaussian", n_latent=4, hidden=(16,), epochs=40)
    assert _fit_recording(est, x) == []
    # the data have two directions of variation: a fitted code needs at least two dimensions
    assert est.latent_usage_["n_active"] >= 2


def test_single_cells_of_three_cell_lines_do_not_warn(fixtures):
    needs_anndata()
    ds = read_dataset(fixtures / "cellbench_100x200.h5ad")
    # (a VAE's codes first shrink toward the prior, then grow as the decoder learns to use
    # them: a few dozen steps in, this fit is still collapsed, and rightly says so)
    cfg = FitConfig(train=TrainConfig(batch_size=32, lr=3e-3))
    est = VAE(likelihood="nb", n_latent=3, hidden=(16,), epochs=60, config=cfg)
    assert _fit_recording(est, ds) == []
    assert est.latent_usage_["n_active"] >= 1


def test_without_validation_records_the_first_training_records_are_measured(monkeypatch):
    monkeypatch.setattr(usage_module, "MAX_RECORDS", 5)
    x = _noise(n=9)  # fewer than 10 records: none held out
    est = _collapsed(x)
    est.config = FitConfig(train=TrainConfig(batch_size=4, lr=1e-2))  # enough steps to collapse
    caught = _fit_recording(est, x)
    assert est.n_validation_ == 0
    assert est.latent_usage_["split"] == "training" and est.latent_usage_["records"] == 5
    assert len(caught) == 1 and "over 5 training records" in str(caught[0].message)


def test_an_autoencoder_has_no_prior_to_collapse_to():
    est = Autoencoder(likelihood="gaussian", n_latent=4, hidden=(16,), epochs=2)
    assert _fit_recording(est, _noise()) == []
    assert est.latent_usage_ is None


def test_the_check_leaves_the_fitted_weights_as_they_were(tmp_path, monkeypatch):
    x = _noise()
    checked = _collapsed(x, seed=3)
    _fit_recording(checked, x)
    checked.save(tmp_path / "checked")
    monkeypatch.setattr(estimator_module, "latent_usage", lambda *args: None)
    unchecked = _collapsed(x, seed=3).fit(x)
    unchecked.save(tmp_path / "unchecked")
    assert unchecked.latent_usage_ is None and checked.latent_usage_ is not None
    a = (tmp_path / "checked" / "weights.safetensors").read_bytes()
    b = (tmp_path / "unchecked" / "weights.safetensors").read_bytes()
    assert a == b
    for name, value in checked.model_.state_dict().items():
        assert torch.equal(value, unchecked.model_.state_dict()[name])


def test_the_usage_is_saved_in_metadata_and_card_and_older_models_still_load(tmp_path):
    x = _noise()
    est = _collapsed(x)
    _fit_recording(est, x)
    folder = est.save(tmp_path / "m")
    meta = json.loads((folder / "metadata.json").read_text())
    assert meta["latent_usage"]["n_active"] == 0 and meta["latent_usage"]["n_latent"] == 4
    card = (folder / "MODEL_CARD.md").read_text(encoding="utf-8")
    assert "| Latent usage | 0 of 4 latent dimensions active" in card
    assert "posterior collapse" in card
    saved = persistence.load(folder)
    assert model_from_saved(saved).latent_usage_ == meta["latent_usage"]
    del saved.metadata["latent_usage"]  # a model saved before the check existed
    old = model_from_saved(saved)
    assert old.latent_usage_ is None
    assert old.transform(x).shape == (len(x), 4)


@pytest.mark.parametrize("quiet", [False, True])
def test_the_cli_warns_with_and_without_quiet(tmp_path, capsys, quiet):
    from tests.cli._run import run

    path = tmp_path / "d.tsv"
    np.savetxt(path, _noise(), delimiter="\t", header="\t".join(f"g{j}" for j in range(8)))
    argv = ["fit", path, "--likelihood", "gaussian", "--latent", 4, "--hidden", 16]
    argv += ["--beta", 200, "--epochs", 20, "--batch-size", 16, "--lr", 0.01]
    argv += ["--out", tmp_path / "m", *(["--quiet"] * quiet)]
    rc, out, err = run(capsys, *argv)
    assert rc == 0 and out == f"{tmp_path / 'm'}\n"
    lines = err.splitlines()
    warned = [line for line in lines if line.startswith("biovae: warning: posterior collapse")]
    assert len(warned) == 1
    assert (lines == warned) is quiet  # --quiet: the warning alone; otherwise notes too


def test_a_healthy_cli_fit_does_not_warn(tmp_path, capsys):
    from tests.cli._run import run, small_table

    small_table(tmp_path)
    argv = ["fit", tmp_path / "d.tsv", "--likelihood", "gaussian", "--latent", 3]
    rc, _, err = run(capsys, *argv, "--epochs", 40, "--out", tmp_path / "m", "--quiet")
    assert rc == 0 and err == ""
