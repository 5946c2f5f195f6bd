"""Whether a fit ended with its loss still falling (the "train longer" verdict of the collapse
warning) is read from the trend of its last epochs, not from which epoch happened to be the
lowest: histories whose answer is known by construction."""

from __future__ import annotations

import re

import numpy as np
import pytest

from biovae.config import FitConfig
from biovae.latent_usage import unsettled
from biovae.training.history import loss_trend

SEEDS = range(100)


def _history(losses, val_losses=None, kl=None) -> list[dict]:
    """One row per epoch at β 1: training ``loss`` (or ``recon`` + ``kl``) and validation."""
    rows = []
    for i, loss in enumerate(losses):
        row = {"epoch": i + 1, "beta": 1.0, "loss": float(loss)}
        if kl is not None:
            row.update(recon=float(loss) - kl[i], kl=float(kl[i]))
        if val_losses is not None:
            row.update(val_recon=float(val_losses[i]), val_kl=0.0, val_elbo=-val_losses[i])
        rows.append(row)
    return rows


def _old_rule_falling(losses) -> bool:
    """The rule replaced: still falling when the last epoch is the lowest."""
    return int(np.argmin(losses)) == len(losses) - 1


def _plateau(seed: int, n: int = 50) -> np.ndarray:
    """A flat loss with minibatch noise (0.1 %) whose last epoch happens to be its lowest, by
    0.01 %."""
    losses = 1000 + np.random.default_rng(seed).normal(0, 1, n)
    losses[-1] = losses[:-1].min() * (1 - 1e-4)
    return losses


def _decline(seed: int, n: int = 50) -> np.ndarray:
    """A loss falling 1 per epoch (0.1 % of it, 1 % over the last 10 epochs) with noise."""
    return 1000 - np.arange(n) + np.random.default_rng(seed).normal(0, 2, n)


def test_a_noisy_plateau_whose_last_epoch_is_its_lowest_has_settled():
    assert all(_old_rule_falling(_plateau(s)) for s in SEEDS)  # the old rule: all falling
    falling = [loss_trend(_history(_plateau(s)), 1.0).falling for s in SEEDS]
    # the last epoch lies 2–3 noise widths low on purpose; a t < −2 slope is then rare
    assert sum(falling) <= 20, sum(falling)
    # noise alone, no low last epoch: about the t test's own ~4 % false alarms
    noise = [1000 + np.random.default_rng(s).normal(0, 1, 50) for s in SEEDS]
    pure = [loss_trend(_history(losses), 1.0) for losses in noise]
    assert sum(t.falling for t in pure) <= 8
    assert unsettled(_history(_plateau(0)), FitConfig()) == ""


def test_a_steady_decline_is_still_falling_even_when_its_last_epoch_bounced_up():
    declines = [_decline(s) for s in SEEDS]
    assert all(loss_trend(_history(d), 1.0).falling for d in declines)
    bounced = [d for d in declines if not _old_rule_falling(d)]  # the old rule: settled
    assert len(bounced) >= 30
    # one epoch bounced up well above its predecessor: the trend still reads falling
    up = _decline(3)
    up[-1] = up[-2] + 3
    assert not _old_rule_falling(up)
    message = unsettled(_history(up), FitConfig())
    assert message.startswith("after only 50 epochs, its training loss still falling (down ")
    assert message.endswith(" % over its last 10 epochs)")  # k = max(5, 20 % of 50)


def test_an_exponential_decay_that_flattened_has_settled():
    t = np.arange(60)
    decay = 900 + 300 * np.exp(-t / 5)  # within 0.002 of its floor of 900 by epoch 60
    histories = [decay + np.random.default_rng(s).normal(0, 1, 60) for s in SEEDS]
    assert sum(loss_trend(_history(h), 1.0).falling for h in histories) <= 8
    # the same decay cut off after 8 epochs, still falling some 1.5 % per epoch, is falling
    assert all(loss_trend(_history(h[:8]), 1.0).falling for h in histories)


@pytest.mark.parametrize(
    ("losses", "falling", "change"),
    [
        # an exact line, 10/19 per epoch: over the window of 5, 5·10/19 of a mean of 90 + 20/19
        (np.linspace(100, 90, 20), True, -(5 * 10 / 19) / (90 + 20 / 19)),
        (np.full(20, 100.0), False, 0.0),
        (np.linspace(100, 110, 20), False, (5 * 10 / 19) / (110 - 20 / 19)),
        # a fall of about 0.03 % over the window, below the 0.1 % tolerance, however clean
        (np.linspace(1000, 999.0, 20) + 1e-3 * (-1) ** np.arange(20), False, None),
    ],
)
def test_the_trend_is_a_least_squares_slope_over_the_last_20_percent(losses, falling, change):
    trend = loss_trend(_history(losses), 1.0)
    assert trend.epochs == 5 and trend.falling is falling
    if change is not None:
        assert trend.change == pytest.approx(change, rel=1e-3)


def test_fewer_than_five_epochs_are_too_few_to_tell():
    assert loss_trend(_history([9.0, 8.0, 7.0, 6.0]), 1.0).falling is None
    message = unsettled(_history([9.0, 8.0, 7.0], [9.0, 8.0, 7.0]), FitConfig())
    assert message == (
        "after only 3 epochs, too few to tell whether its validation loss had settled "
        "(its trend needs 5)"
    )
    assert unsettled(_history([5.0]), FitConfig()).startswith("after only 1 epoch, too few")
    assert unsettled([], FitConfig()) == ""


def test_the_validation_loss_decides_where_the_history_has_one():
    """Training still falling while validation has flattened (over-fitting starts): the kept
    weights will not improve with more epochs."""
    n = 40
    train = 1000 - 2.0 * np.arange(n)
    flat = 1000 + np.random.default_rng(0).normal(0, 1, n)
    assert loss_trend(_history(train), 1.0).falling
    trend = loss_trend(_history(train, flat), 1.0)
    assert trend.split == "validation" and not trend.falling
    assert unsettled(_history(train, flat), FitConfig()) == ""


def test_the_training_loss_is_read_at_the_target_beta():
    """During a KL warm-up the training ``loss`` rises with β; the trend reads reconstruction
    + β·KL at the target β, which here falls."""
    n = 20
    kl = np.full(n, 400.0)
    recon = 1000 - 2.0 * np.arange(n)
    history = _history(recon + kl, kl=kl)
    for i, row in enumerate(history):  # trained with β rising from 0.05 to 1: loss rises
        row["beta"] = min(1.0, (i + 1) / n)
        row["loss"] = row["recon"] + row["beta"] * row["kl"]
    assert history[-1]["loss"] > history[-6]["loss"]
    assert loss_trend(history, 1.0).falling


def test_a_fall_through_zero_is_said_in_nats_not_thousands_of_per_cent():
    """A Gaussian loss can sit near zero or cross it: its fall as a share of its mean read
    'down 3.7e+02 %'. Falling 0.5 per epoch through 0, the last 10 epochs fall about 5 nats
    (the slope × 10)."""
    losses = 20 - 0.5 * np.arange(50) + np.random.default_rng(1).normal(0, 0.05, 50)
    message = unsettled(_history(losses), FitConfig())
    assert re.search(r"still falling \(down [45]\.\d+ nats over its last 10 epochs\)", message)
    assert "%" not in message
    ordinary = unsettled(_history(_decline(3)), FitConfig())
    assert " % over its last 10 epochs)" in ordinary  # a loss far from 0: as a share of it
