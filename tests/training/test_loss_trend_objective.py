"""The "train longer" verdict reads the loss a fit trained (free bits: its recorded loss; the
IWAE bound: −IWAE-k), and a loss that was not finite is told as a diverged fit, not as a fit
too short to tell: histories whose answer is known by construction, and one real IWAE fit."""

from __future__ import annotations

import math
import warnings
from types import SimpleNamespace

import numpy as np
import pytest

from biovae import latent_usage
from biovae.config import FitConfig, ObjectiveConfig, TrainConfig
from biovae.training.history import loss_series, loss_trend
from tests.conftest import needs_anndata

NAN, INF = math.nan, math.inf
DIVERGED_REMEDIES = (
    "lower the learning rate --lr (config.train.lr), standardise extreme inputs, or pick a "
    "likelihood that fits the data --likelihood (likelihood)"
)


def _history(val_losses) -> list[dict]:
    """One row per epoch at β 1: validation loss = val_recon (val_kl 0), training loss 1."""
    return [
        {"epoch": i + 1, "beta": 1.0, "loss": 1.0, "recon": 1.0, "kl": 0.0}
        | {"val_recon": float(v), "val_kl": 0.0, "val_loss": float(v)}
        for i, v in enumerate(val_losses)
    ]


@pytest.mark.parametrize("bad", [NAN, INF])
def test_a_loss_not_finite_in_every_epoch_is_a_diverged_fit_not_a_short_one(bad):
    history = _history([bad] * 8)
    trend = loss_trend(history, 1.0)
    assert (trend.left_out, trend.read, trend.falling) == (8, 0, None)
    # not "too few to tell ... (its trend needs 5)" and no advice to train longer
    assert latent_usage.unsettled(history, FitConfig()) == ""
    assert latent_usage.diverged(history, FitConfig()) == (
        "training diverged: its validation loss was not finite (NaN or ∞) in 8 of 8 epochs; "
        + DIVERGED_REMEDIES
    )


def test_a_loss_not_finite_in_most_epochs_is_a_diverged_fit():
    # 7 of 12 epochs NaN: the 5 finite ones could be read, but most of the fit diverged
    losses = [9.0, 8.0, 7.0, 6.0, 5.0] + [NAN] * 7
    assert latent_usage.unsettled(_history(losses), FitConfig()) == ""
    assert latent_usage.diverged(_history(losses), FitConfig()).startswith(
        "training diverged: its validation loss was not finite (NaN or ∞) in 7 of 12 epochs; "
    )
    # fewer finite epochs than the trend needs, most of them finite: still not readable
    short = [9.0, NAN, 8.0, 7.0]
    assert latent_usage.unsettled(_history(short), FitConfig()) == ""
    assert " in 1 of 4 epochs; " in latent_usage.diverged(_history(short), FitConfig())


def test_a_few_non_finite_epochs_are_left_out_and_counted():
    losses = list(1000.0 - np.arange(50.0))  # falling 1 per epoch, exactly
    for i in (3, 17, 40):
        losses[i] = NAN if i != 17 else INF
    history = _history(losses)
    trend = loss_trend(history, 1.0)
    # 47 finite epochs: a window of max(5, ⌈47 / 5⌉) = 10, a line falling 1 per epoch but
    # across the gap of epoch 41 (the window's values: 989 … 985, 983 … 979)
    assert (trend.left_out, trend.read, trend.epochs, trend.falling) == (3, 47, 10, True)
    assert latent_usage.diverged(history, FitConfig()) == ""
    message = latent_usage.unsettled(history, FitConfig())
    assert message.startswith("after only 50 epochs, its validation loss still falling (down ")
    assert message.endswith(
        " over its last 10 epochs; 3 of 50 epochs left out, their loss not finite)"
    )


def test_the_collapse_warning_of_a_diverged_fit_names_the_trainers_remedies_not_more_epochs():
    usage = {"n_active": 0, "n_latent": 3, "records": 10, "split": "validation", "threshold": 0.01}
    est = SimpleNamespace(latent_usage_=usage, history_=_history([NAN] * 3), config_=FitConfig())
    with pytest.warns(latent_usage.PosteriorCollapseWarning) as caught:
        latent_usage.warn_if_collapsed(est)
    message = str(caught[0].message)
    assert message.endswith("in 3 of 3 epochs; " + DIVERGED_REMEDIES)
    assert "too few to tell" not in message and "--epochs" not in message


def _free_bits_history(n: int, free_bits: float, k: int = 4) -> list[dict]:
    """A fit under free bits λ whose reconstruction has settled at 100 (± noise) while the KL
    of each of ``k`` dimensions shrinks from 0.9·λ to 0.5·λ: below the floor λ, where the
    objective recon + β·Σ_k max(λ, KL_k) does not reward it, so the trained loss is flat while
    reconstruction + β·KL keeps falling."""
    noise = np.random.default_rng(0).normal(0, 0.01, n)
    kl_k = free_bits * np.linspace(0.9, 0.5, n)
    rows = []
    for i in range(n):
        recon = 100.0 + noise[i]
        trained = recon + k * max(free_bits, kl_k[i])  # the free-bits objective at β 1
        rows.append(
            {"epoch": i + 1, "beta": 1.0, "val_recon": recon, "val_kl": k * kl_k[i]}
            | {"val_loss": trained, "recon": recon, "kl": k * kl_k[i], "loss": trained}
        )
    return rows


def test_a_free_bits_fit_is_read_on_the_objective_it_trained():
    history = _free_bits_history(30, free_bits=2.0)
    # reconstruction + KL falls by 8 · 0.4 · 6 / 29 nats over the window (≈ 0.6 % of ≈ 106)
    assert loss_trend(history, 1.0).falling
    trend = loss_trend(history, 1.0, free_bits=2.0)
    assert trend.split == "validation" and trend.falling is False
    assert loss_series(history, 1.0, free_bits=2.0)[1] == [r["val_loss"] for r in history]
    config = FitConfig(objective=ObjectiveConfig(free_bits=2.0))
    assert latent_usage.unsettled(history, config) == ""
    # the same fit on the ELBO (no free bits) trained recon + KL, which was still falling
    assert latent_usage.unsettled(history, FitConfig()).startswith("after only 30 epochs, its ")


def test_a_free_bits_fit_reads_only_its_epochs_at_the_target_beta():
    """Its recorded loss is at the epoch's β: the warm-up's epochs (β below 1) are not read."""
    history = _free_bits_history(12, free_bits=2.0)
    for row, beta in zip(history, (0.25, 0.5, 0.75)):
        row["beta"], row["val_loss"] = beta, row["val_recon"] + beta * 8.0
    _, series = loss_series(history, 1.0, free_bits=2.0)
    assert series == [r["val_loss"] for r in history[3:]]
    # without validation: the training loss, likewise
    plain = [{k: v for k, v in r.items() if not k.startswith("val_")} for r in history]
    assert loss_series(plain, 1.0, free_bits=2.0) == ("training", series)


def test_an_iwae_fit_is_read_on_its_iwae_bound(fixtures):
    """Training records −IWAE-k as the reconstruction and 0 as the KL, so reconstruction +
    β·KL is the negative IWAE-5 bound it trained (``val_elbo`` is the bound itself)."""
    from biovae import VAE
    from biovae.data.readers import read_dataset

    needs_anndata()
    ds = read_dataset(fixtures / "cellbench_100x200.h5ad")
    cfg = FitConfig(objective=ObjectiveConfig(iwae_samples=5), train=TrainConfig(batch_size=32))
    with warnings.catch_warnings():  # a collapse warning of 6 epochs is not the point here
        warnings.simplefilter("ignore", latent_usage.PosteriorCollapseWarning)
        est = VAE(likelihood="poisson", n_latent=3, hidden=(16,), epochs=6, config=cfg).fit(ds)
    split, series = loss_series(est.history_, 1.0)
    assert split == "validation"
    assert series == pytest.approx([-r["val_elbo"] for r in est.history_], rel=1e-6)
    assert series == pytest.approx([r["val_loss"] for r in est.history_], rel=1e-6)


def test_diagnose_and_the_report_tell_a_diverged_fit_not_a_short_one():
    from biovae.diagnose import _training_remedy
    from biovae.diagnostics.collapse import collapse_report
    from biovae.reports.sections import _verdict

    config, history = FitConfig(), _history([NAN] * 4)
    mi = {"mutual_information": 0.0}
    collapsed = collapse_report(np.zeros(3), np.zeros(3), np.zeros(3, bool), mi, config)
    told = _training_remedy(collapsed, SimpleNamespace(history_=history, config_=config))
    bad = latent_usage.diverged(history, config)
    assert told.remedies == [bad, *collapsed.remedies]
    assert bad.endswith(" in 4 of 4 epochs; " + DIVERGED_REMEDIES)
    verdict = _verdict(0, 2, True, kl_total=2.25, ended="", bad=bad)
    assert verdict.endswith(f"between records — {bad}.") and "train longer" not in verdict


@pytest.mark.parametrize("free_bits", [0.0, 2.0])
def test_epochs_whose_history_lacks_the_loss_are_not_called_non_finite(free_bits):
    """A history row without the loss's columns (a history saved by other code, or a
    hand-written one: persistence accepts any list of dicts) has no loss to read: it is not
    counted as an epoch whose loss was NaN or ∞, so the fit is not called diverged."""
    config = FitConfig(objective=ObjectiveConfig(free_bits=free_bits))
    bare = [{"epoch": i + 1, "beta": 1.0} for i in range(8)]
    trend = loss_trend(bare, 1.0, free_bits=free_bits)
    assert (trend.left_out, trend.read, trend.diverged) == (0, 0, False)
    assert latent_usage.diverged(bare, config) == ""
    assert "too few to tell" in latent_usage.unsettled(bare, config)
    # rows without the loss among rows with one: only the recorded values are read
    history = _history([9.0, 8.0, 7.0, 6.0, 5.0, 4.0])
    for row in history[:3]:
        for key in ("val_recon", "val_kl", "val_loss"):
            row.pop(key)
    trend = loss_trend(history, 1.0, free_bits=free_bits)
    assert (trend.left_out, trend.read) == (0, 3)
    assert latent_usage.diverged(history, config) == ""
