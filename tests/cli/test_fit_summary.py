"""The line ``biovae fit`` ends with: the numbers of the weights it saved."""

from __future__ import annotations

from biovae.cli.commands import _fit_summary
from biovae.config import FitConfig


def _row(epoch: int, val_elbo: float) -> dict:
    return {"epoch": epoch, "elbo": -10.0, "val_elbo": val_elbo, "val_recon": -val_elbo - 1,
            "val_kl": 1.0}  # fmt: skip


def test_fit_summary_names_the_kept_epoch_when_early_stopping_kept_an_earlier_one() -> None:
    history = [_row(1, -9.0), _row(2, -7.5), _row(3, -8.0)]  # epoch 2's weights are saved
    text = _fit_summary(FitConfig(), history)
    assert text.startswith("trained 3 epochs; ELBO/record -10, validation -8")
    assert text.endswith("; kept (saved) epoch 2, validation -7.5")
    assert "kept" not in _fit_summary(FitConfig(), history[:2])  # the last one is kept
    assert _fit_summary(FitConfig(), history[:1]).startswith("trained 1 epoch;")
