"""The collapse verdict's remedies fit the model's objective: training on the IWAE-k bound
refuses β, KL warm-up and free bits (the bound has no KL term), so `biovae diagnose` must not
offer them as they are to such a model."""

from __future__ import annotations

from biovae.config import FitConfig, ObjectiveConfig
from biovae.diagnostics.collapse import _remedies


def test_an_iwae_trained_model_is_told_its_bound_has_no_kl_term_to_weigh():
    iwae = _remedies(FitConfig(objective=ObjectiveConfig(iwae_samples=5)), n_active=0)
    text = " | ".join(iwae)
    assert "IWAE-5 bound" in text and "--iwae-samples 1" in text
    assert not any(r.startswith(("KL warm-up", "free bits", "lower β")) for r in iwae)


def test_an_elbo_trained_model_keeps_the_elbo_levers():
    elbo = _remedies(FitConfig(objective=ObjectiveConfig(beta=4.0)), n_active=0)
    assert [r.split(" ")[0] for r in elbo[:3]] == ["lower", "KL", "free"]
    assert not any("IWAE" in r for r in elbo)


def _falling(n: int) -> list[dict]:
    """A training history (no validation) whose loss falls 2 % per epoch to its end."""
    return [{"epoch": i + 1, "beta": 1.0, "loss": 1000.0 * 0.98**i} for i in range(n)]


def _flat(n: int) -> list[dict]:
    return [{"epoch": i + 1, "beta": 1.0, "loss": 1000.0 + (-1.0) ** i} for i in range(n)]


def test_a_collapse_of_a_fit_whose_loss_was_still_falling_is_told_to_train_longer_first():
    from types import SimpleNamespace

    import numpy as np

    from biovae.diagnose import _training_remedy
    from biovae.diagnostics.collapse import collapse_report

    config = FitConfig()
    mi = {"mutual_information": 0.0}
    collapsed = collapse_report(np.zeros(3), np.zeros(3), np.zeros(3, bool), mi, config)
    told = _training_remedy(collapsed, SimpleNamespace(history_=_falling(30), config_=config))
    assert told.remedies[0].startswith(
        "the fit ended after only 30 epochs, its training loss still falling (down "
    )
    assert told.remedies[0].endswith(
        ": train longer, raising --epochs (epochs), before changing the model"
    )
    assert told.remedies[1:] == collapsed.remedies
    # a fit whose loss had settled, or a model using every dimension: the remedies as they were
    flat = SimpleNamespace(history_=_flat(30), config_=config)
    assert _training_remedy(collapsed, flat).remedies == collapsed.remedies
    used = collapse_report(np.ones(3), np.ones(3), np.ones(3, bool), mi, config)
    falling = SimpleNamespace(history_=_falling(30), config_=config)
    assert _training_remedy(used, falling).remedies == used.remedies == []
