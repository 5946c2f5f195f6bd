"""The posterior-collapse warning names what applies: remedies of the command that fitted the
model (``biovae fit`` vs ``biovae structure fit``), and, for a fit that ended before it settled
(in its KL warm-up, or its loss still falling), the advice to train longer instead."""

from __future__ import annotations

import dataclasses
import re
import warnings
from types import SimpleNamespace

import numpy as np
import pytest

from biovae import VAE, latent_usage
from biovae.config import FitConfig, ObjectiveConfig, TrainConfig
from biovae.data.readers import read_dataset
from tests.conftest import needs_anndata

MODEL_ADVICE = ("--model pca", "biovae diagnose", "--beta", "--kl-warmup", "--free-bits")


def _config(beta: float = 1.0, warmup: int = 0, early_stopping: str = "elbo") -> FitConfig:
    objective = ObjectiveConfig(beta=beta, kl_warmup_epochs=warmup)
    return FitConfig(objective=objective, train=TrainConfig(early_stopping=early_stopping))


def _epochs(val_losses=None, losses=None, betas=None) -> list[dict]:
    """A history: validation loss = val_recon (val_kl 0) and training ``loss`` per epoch."""
    n = len(val_losses or losses)
    rows = []
    for i in range(n):
        row = {"epoch": i + 1, "beta": (betas or [1.0] * n)[i], "loss": (losses or [0.0] * n)[i]}
        if val_losses:
            row.update(val_recon=val_losses[i], val_kl=0.0, val_elbo=-val_losses[i])
        rows.append(row)
    return rows


def test_a_fit_is_unsettled_by_its_loss_trend_not_by_its_best_epoch():
    """The trend rule itself: tests/training/test_loss_trend.py."""
    # the best validation epoch is the last, but the loss is flat (within 0.1 %) at its end
    flat = _epochs(val_losses=[9.0, 7.0, 7.002, 7.001, 7.003, 7.0015, 6.9995])
    assert latent_usage.unsettled(flat, _config()) == ""
    # the last epoch bounced up, but the loss fell steadily before it
    bounced = _epochs(val_losses=[9.0, 8.0, 7.0, 6.0, 5.0, 4.0, 4.5])
    assert latent_usage.unsettled(bounced, _config()) == (
        "after only 7 epochs, its validation loss still falling (down 66 % over its last 5 epochs)"
    )
    # without validation records: the training loss decides
    assert latent_usage.unsettled(_epochs(losses=[9.0, 8.0, 7.0, 6.0, 5.0]), _config()).endswith(
        "its training loss still falling (down 71 % over its last 5 epochs)"
    )


def test_a_fit_that_ended_in_its_kl_warmup_had_not_settled():
    # β_t = β (epoch + 1) / warm-up: 3 of 10 warm-up epochs reach β 0.3 of 1; the best
    # validation epoch is the first, yet the fit never trained at its target β
    history = _epochs(val_losses=[7.0, 8.0, 9.0], betas=[0.1, 0.2, 0.3])
    assert (
        latent_usage.unsettled(history, _config(warmup=10))
        == "after only 3 epochs, in its KL warm-up (β 0.3 of 1)"
    )


def _fit_warnings(fit) -> list[str]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit()
    return [str(w.message) for w in caught if "posterior collapse" in str(w.message)]


def test_a_short_fit_of_single_cells_is_told_to_train_longer(fixtures):
    """Three epochs in, the codes of a fit of three cell lines have shrunk to the prior (60
    epochs later they use every dimension: test_latent_usage): the warning says the fit was
    short rather than suggesting another model."""
    needs_anndata()
    ds = read_dataset(fixtures / "cellbench_100x200.h5ad")
    cfg = FitConfig(train=TrainConfig(batch_size=32, lr=3e-3))
    est = VAE(likelihood="nb", n_latent=3, hidden=(16,), epochs=3, config=cfg)
    (message,) = _fit_warnings(lambda: est.fit(ds))
    assert "0 of 3 latent dimensions active" in message
    assert (
        "after only 3 epochs, too few to tell whether its validation loss had settled (its "
        "trend needs 5); longer fits often recover" in message
    )
    assert "--epochs" in message
    assert not any(flag in message for flag in MODEL_ADVICE)


def test_a_fit_ended_in_its_warmup_is_told_to_train_longer():
    x = np.random.default_rng(0).normal(size=(120, 8)).astype(np.float32)
    cfg = FitConfig(
        objective=ObjectiveConfig(beta=200.0, kl_warmup_epochs=100),
        train=TrainConfig(batch_size=16, lr=1e-2),
    )
    est = VAE(likelihood="gaussian", n_latent=4, hidden=(16,), epochs=20, config=cfg)
    (message,) = _fit_warnings(lambda: est.fit(x))
    assert "after only 20 epochs, in its KL warm-up (β 40 of 200)" in message
    assert not any(flag in message for flag in MODEL_ADVICE)


def _structure_config(epochs: int) -> FitConfig:
    from biovae.structure_config import STRUCTURE_DEFAULTS

    train = dataclasses.replace(STRUCTURE_DEFAULTS.train, epochs=epochs, batch_size=4, lr=1e-2)
    return dataclasses.replace(
        STRUCTURE_DEFAULTS, objective=ObjectiveConfig(beta=1000.0), train=train
    )


_USAGE = {"n_active": 0, "n_latent": 4, "records": 12, "split": "validation", "threshold": 0.01}


def _iwae_advice(remedies: latent_usage.Remedies, iwae_samples: int) -> str:
    """The warning of a settled, collapsed fit (no history: nothing says it ended early)."""
    objective = ObjectiveConfig(iwae_samples=iwae_samples)
    est = SimpleNamespace(latent_usage_=_USAGE, history_=[], config_=FitConfig(objective=objective))
    (message,) = _fit_warnings(lambda: latent_usage.warn_if_collapsed(est, remedies))
    return message


def _kl_flags_only_with_the_elbo(message: str) -> None:
    """β, warm-up and free bits (refused with the IWAE bound) are offered only after the
    switch to the ELBO (--iwae-samples 1), never as changes to the IWAE fit."""
    before, switch, after = message.partition("--iwae-samples 1")
    assert switch, message
    assert not re.search(r"--beta|--kl-warmup|--free-bits", before)
    assert all(flag in after for flag in ("--beta", "--kl-warmup", "--free-bits"))
    assert "--latent" in before  # fewer dimensions: accepted with the IWAE bound


def test_a_collapsed_iwae_fit_is_told_remedies_its_objective_accepts():
    """A fit on the IWAE bound was told to refit with --beta / --kl-warmup / --free-bits, which
    training refuses with --iwae-samples > 1 (no KL term to weigh)."""
    message = _iwae_advice(latent_usage.FIT_REMEDIES, 5)
    _kl_flags_only_with_the_elbo(message)
    assert "--model pca" in message and "biovae diagnose" in message
    structure = _iwae_advice(latent_usage.STRUCTURE_REMEDIES, 5)
    _kl_flags_only_with_the_elbo(structure)
    assert "biovae structure report" in structure and "--model" not in structure
    # an ELBO fit keeps its advice: nothing about the IWAE bound it does not use
    for remedies in (latent_usage.FIT_REMEDIES, latent_usage.STRUCTURE_REMEDIES):
        elbo = _iwae_advice(remedies, 1)
        assert "--beta" in elbo and "--iwae-samples" not in elbo and "--latent" not in elbo


def test_vae_fit_on_the_iwae_bound_warns_with_those_remedies(monkeypatch):
    from biovae import estimator

    monkeypatch.setattr(estimator, "latent_usage", lambda *args: dict(_USAGE))
    x = np.random.default_rng(0).normal(size=(60, 4)).astype(np.float32)
    cfg = FitConfig(objective=ObjectiveConfig(iwae_samples=3), train=TrainConfig(epochs=2))
    est = VAE(likelihood="gaussian", n_latent=4, hidden=(8,), config=cfg)
    monkeypatch.setattr(latent_usage, "unsettled", lambda history, config: "")  # settled
    (message,) = _fit_warnings(lambda: est.fit(x))
    _kl_flags_only_with_the_elbo(message)


def test_a_collapsed_structure_fit_names_the_remedies_structure_fit_has(fixtures, tmp_path):
    from biovae.data.structure import read_structures
    from biovae.structure_estimator import ConformationVAE

    frames = read_structures(fixtures / "ubiquitin_2k39_ca_12.pdb")
    est = ConformationVAE(loss="mse", config=_structure_config(60))
    (message,) = _fit_warnings(lambda: est.fit(frames))  # once: VAE.fit's own is not told
    assert "0 of 2 latent dimensions active" in message and "after only" not in message
    for flag in ("biovae structure report", "--beta", "--kl-warmup", "--free-bits"):
        assert flag in message
    # structure fit has no --model, and biovae diagnose refuses structure models
    assert "--model" not in message and "biovae diagnose" not in message
    assert est.vae_.latent_usage_["n_active"] == 0
    # its card points at what reads structure models: biovae diagnose refuses them
    card = (est.save(tmp_path / "m") / "MODEL_CARD.md").read_text(encoding="utf-8")
    (row,) = [line for line in card.splitlines() if line.startswith("| Latent usage |")]
    assert "0 of 2 latent dimensions active" in row and "biovae structure report" in row
    assert "biovae diagnose" not in row


@pytest.mark.parametrize("quiet", [False, True])
def test_structure_fit_on_the_command_line_says_a_short_fit_is_short(
    fixtures, tmp_path, capsys, quiet
):
    from tests.cli._run import run

    argv = ["structure", "fit", fixtures / "ubiquitin_2k39_ca_12.pdb", "--loss", "mse"]
    argv += ["--epochs", 1, "--out", tmp_path / "m", *(["--quiet"] * quiet)]
    rc, out, err = run(capsys, *argv)
    assert rc == 0 and out == f"{tmp_path / 'm'}\n"
    warned = [line for line in err.splitlines() if "posterior collapse" in line]
    assert len(warned) == 1 and warned[0].startswith("biovae: warning: posterior collapse")
    assert "after only 1 epoch, too few to tell whether its training loss" in warned[0]
    assert "(its trend needs 5); longer fits often recover" in warned[0]
    assert "--model" not in warned[0] and "biovae diagnose" not in warned[0]


def test_a_short_structure_fit_is_told_how_a_conformation_vae_trains_longer(fixtures):
    """It was told 'Python: epochs= or TrainConfig epochs', a keyword ConformationVAE lacks."""
    from biovae.data.structure import read_structures
    from biovae.structure_estimator import ConformationVAE

    frames = read_structures(fixtures / "ubiquitin_2k39_ca_12.pdb")
    est = ConformationVAE(loss="mse", config=_structure_config(2))
    (message,) = _fit_warnings(lambda: est.fit(frames))
    assert "after only 2 epochs" in message and "epochs=" not in message
    assert "more --epochs (Python: ConformationVAE(config=...) with TrainConfig epochs)" in message
